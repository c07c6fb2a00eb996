"""GCTB 2.05's default prior settings (its ``options.hpp``), the defaults of ``bayesmix-gctb``.

A light module (no PyMC), so that the command line can show them without loading the models.
GCTB 2.0's documentation gave BayesR four components, gamma (0, 0.01, 0.1, 1) with starting
weights (0.95, 0.02, 0.02, 0.01), and a starting heritability of 0.5: those remain the Python
defaults of :class:`bayesmix.models.alphabet.AlphabetPrior` (docs/design.md).
"""

#: BayesR/SBayesR component variances relative to sig2_beta (``--gamma``): five components
GCTB_GAMMA = (0.0, 0.001, 0.01, 0.1, 1.0)
#: their starting weights (``--pi``)
GCTB_PI_R = (0.95, 0.02, 0.01, 0.01, 0.01)
#: starting heritability (``--hsq``), which also sets the prior scales of the variances
GCTB_HSQ = 0.1
