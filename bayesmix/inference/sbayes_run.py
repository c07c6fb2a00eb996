"""One call from summary data to posterior draws: an SBayes model run by the chain driver.

:func:`run_sbayes` builds an :class:`~bayesmix.models.sbayes.SBayesModel` and samples it
with the steps of :mod:`bayesmix.inference.sbayes_gibbs` in
:func:`bayesmix.inference.chain.run_chains`.
"""

from __future__ import annotations

from bayesmix.inference.chain import ChainSettings, run_chains
from bayesmix.inference.sbayes_gibbs import make_sbayes_steps
from bayesmix.models.alphabet import AlphabetPrior
from bayesmix.models.sbayes import SBayesModel
from bayesmix.prepare.summary_data import SummaryData


def run_sbayes(data: SummaryData, prior: AlphabetPrior | str = "C", settings=None, *,
               chains: int = 1, cores: int = 1, client=None, **model_options):
    """Build an SBayes model and run it with the alphabet's chain driver.

    ``settings`` is a :class:`~bayesmix.inference.chain.ChainSettings`; ``model_options``
    go to :class:`~bayesmix.models.sbayes.SBayesModel`; ``client``: a Dask client, one
    task per chain (:func:`~bayesmix.inference.chain.run_chains`). Returns
    ``(model, ChainsResult)``.
    """
    model = SBayesModel(data, prior, **model_options)
    result = run_chains(model, make_sbayes_steps, settings or ChainSettings(), chains=chains,
                        cores=cores, client=client)
    return model, result
