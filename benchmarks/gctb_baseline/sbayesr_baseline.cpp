// sbayesr_baseline: a same-machine C++ stand-in for GCTB 2.0's SBayesR Gibbs sampler.
//
// Purpose: time SBayesR iterations the way GCTB 2.0 computes them (same data structures,
// float precision, operations per SNP and hyperparameter updates), on GCTB's own input files,
// so that bayesmix's per-iteration time can be compared on the same machine, LD and thread
// count. Written from a description of GCTB's algorithm (benchmarks/gctb_baseline/README.md);
// it is not GCTB and shares no code with it.
//
// Inputs (GCTB's formats): PREFIX.ldm.{band,full,sparse}.{bin,info} and a GCTA-COJO .ma file.
// Output: progress lines, then the median/mean milliseconds per whole iteration and the
// posterior means (hsq, ...); --json adds one JSON line for scripts.
//
// Scale (as GCTB with scaled genotypes): genotypes standardised, phenotype in its own units
// with variance Vp (median per-SNP phenotypic variance). X'X_ij = sqrt(n_i n_j) r_ij,
// X'y_j = n_j r_jj b_j sqrt(2pq_j), y'y = median_j n_j V_j; residual and genetic variances in
// phenotype units; hsq = GenVar / Vp.

#include <Eigen/Dense>
#include <Eigen/SparseCore>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

using Eigen::SparseVector;
using Eigen::VectorXf;
using Eigen::VectorXi;

namespace {

[[noreturn]] void fail(const std::string &message) { throw std::runtime_error(message); }

std::vector<std::string> split_ws(const std::string &line) {
    std::istringstream in(line);
    std::vector<std::string> tokens;
    std::string token;
    while (in >> token) tokens.push_back(token);
    return tokens;
}

std::vector<float> parse_list(const std::string &text) {
    std::vector<float> values;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ',')) values.push_back(std::stof(item));
    return values;
}

// Upper median (element size/2 of the sorted values), the order statistic GCTB takes.
float upper_median(VectorXf values) {
    std::sort(values.data(), values.data() + values.size());
    return values[values.size() / 2];
}

double median_of(std::vector<double> values) {
    if (values.empty()) return NAN;
    std::sort(values.begin(), values.end());
    size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// ---------------------------------------------------------------------------------------------
// Command line (GCTB's option names where GCTB has the option)
// ---------------------------------------------------------------------------------------------
struct Options {
    std::string ldm;            // PREFIX.ldm.TYPE (with or without .bin/.info)
    std::string gwas_summary;   // .ma file
    int chain_length = 3000;
    int burn_in = 1000;
    int thin = 10;
    int out_freq = 100;
    unsigned seed = 1;
    float hsq = 0.5f;           // starting heritability (GCTB --hsq)
    std::vector<float> gamma{0.0f, 0.01f, 0.1f, 1.0f};
    std::vector<float> pi{0.95f, 0.02f, 0.02f, 0.01f};
    // starting sigmaSq (and its prior scale): GenVar / (M (1 - pi_1)) as GCTB ("gctb"), or
    // GenVar / (M sum_k pi_k gamma_k) as bayesmix ("mixture"; for cross-checks of the posterior)
    std::string sigma_sq_start = "gctb";
    bool json = false;
};

void usage() {
    std::cerr << "usage: sbayesr_baseline --ldm PREFIX.ldm.band|full|sparse --gwas-summary F.ma\n"
                 "       [--chain-length 3000] [--burn-in 1000] [--thin 10] [--out-freq 100]\n"
                 "       [--seed 1] [--hsq 0.5] [--gamma 0,0.01,0.1,1] [--pi 0.95,0.02,0.02,0.01]\n"
                 "       [--sigma-sq-start gctb|mixture] [--json]\n";
}

Options parse_options(int argc, char **argv) {
    Options o;
    for (int k = 1; k < argc; ++k) {
        std::string key = argv[k];
        auto value = [&]() -> std::string {
            if (k + 1 >= argc) fail("option " + key + " needs a value");
            return argv[++k];
        };
        if (key == "--ldm") o.ldm = value();
        else if (key == "--gwas-summary") o.gwas_summary = value();
        else if (key == "--chain-length") o.chain_length = std::stoi(value());
        else if (key == "--burn-in") o.burn_in = std::stoi(value());
        else if (key == "--thin") o.thin = std::stoi(value());
        else if (key == "--out-freq") o.out_freq = std::stoi(value());
        else if (key == "--seed") o.seed = static_cast<unsigned>(std::stoul(value()));
        else if (key == "--hsq") o.hsq = std::stof(value());
        else if (key == "--gamma") o.gamma = parse_list(value());
        else if (key == "--pi") o.pi = parse_list(value());
        else if (key == "--sigma-sq-start") o.sigma_sq_start = value();
        else if (key == "--json") o.json = true;
        else if (key == "--help" || key == "-h") { usage(); std::exit(0); }
        else fail("unknown option " + key);
    }
    if (o.ldm.empty() || o.gwas_summary.empty()) { usage(); fail("--ldm and --gwas-summary are required"); }
    if (o.chain_length < 1 || o.burn_in < 0 || o.burn_in >= o.chain_length || o.thin < 1)
        fail("need --chain-length > --burn-in >= 0 and --thin >= 1");
    if (o.gamma.size() != o.pi.size() || o.gamma.size() < 2 || o.gamma[0] != 0.0f)
        fail("--gamma and --pi need the same number (>= 2) of values, gamma starting with 0");
    if (!(o.hsq > 0.0f && o.hsq < 1.0f)) fail("--hsq must be in (0, 1)");
    if (o.sigma_sq_start != "gctb" && o.sigma_sq_start != "mixture")
        fail("--sigma-sq-start must be gctb or mixture");
    return o;
}

// ---------------------------------------------------------------------------------------------
// GCTB LD matrix: PREFIX.ldm.TYPE.info (one header line, one row per SNP) + .bin
// ---------------------------------------------------------------------------------------------
struct SnpRow {
    std::string id, a1, a2;
    int wind_start = 0, wind_size = 0;
    float ref_n = 0.0f;  // LD panel size (the N column)
};

struct LdMatrix {
    std::string type;                               // band, full or sparse
    std::vector<SnpRow> snps;
    std::vector<VectorXf> dense_rows;               // band/full: r_{i, WindStart..WindEnd}
    std::vector<SparseVector<float>> sparse_rows;   // sparse: r_{i, j} at global column j
    bool sparse() const { return type == "sparse"; }
};

std::string strip_suffix(std::string path) {
    for (const char *suffix : {".bin", ".info"}) {
        std::string s(suffix);
        if (path.size() > s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0)
            return path.substr(0, path.size() - s.size());
    }
    return path;
}

LdMatrix read_ldm(const std::string &given) {
    LdMatrix ld;
    std::string prefix = strip_suffix(given);
    size_t dot = prefix.rfind(".ldm.");
    if (dot == std::string::npos) fail("expected PREFIX.ldm.TYPE, got " + given);
    ld.type = prefix.substr(dot + 5);
    if (ld.type != "band" && ld.type != "full" && ld.type != "sparse")
        fail("LD type " + ld.type + " is not supported (band, full or sparse)");

    std::ifstream info(prefix + ".info");
    if (!info) fail("cannot open " + prefix + ".info");
    std::string line;
    std::getline(info, line);
    std::vector<std::string> header = split_ws(line);
    std::map<std::string, size_t> col;
    for (size_t c = 0; c < header.size(); ++c) col[header[c]] = c;
    for (const char *name : {"ID", "A1", "A2", "WindStart", "WindSize", "N"})
        if (!col.count(name)) fail(prefix + ".info: header has no " + std::string(name) + " column");
    size_t line_no = 1;
    while (std::getline(info, line)) {
        ++line_no;
        std::vector<std::string> tok = split_ws(line);
        if (tok.empty()) continue;
        if (tok.size() < header.size())
            fail(prefix + ".info line " + std::to_string(line_no) + ": too few columns");
        SnpRow row;
        row.id = tok[col["ID"]];
        row.a1 = tok[col["A1"]];
        row.a2 = tok[col["A2"]];
        row.wind_start = std::stoi(tok[col["WindStart"]]);
        row.wind_size = std::stoi(tok[col["WindSize"]]);
        row.ref_n = std::stof(tok[col["N"]]);
        ld.snps.push_back(row);
    }
    const size_t m = ld.snps.size();
    if (m == 0) fail(prefix + ".info lists no SNP");

    FILE *bin = std::fopen((prefix + ".bin").c_str(), "rb");
    if (!bin) fail("cannot open " + prefix + ".bin");
    if (ld.sparse()) {
        ld.sparse_rows.resize(m);
        std::vector<uint32_t> cols;
        std::vector<float> vals;
        for (size_t i = 0; i < m; ++i) {
            const int size = ld.snps[i].wind_size;
            cols.resize(size);
            vals.resize(size);
            if (std::fread(cols.data(), sizeof(uint32_t), size, bin) != size_t(size) ||
                std::fread(vals.data(), sizeof(float), size, bin) != size_t(size))
                fail(prefix + ".bin is shorter than its .info says (row " + std::to_string(i) + ")");
            SparseVector<float> &row = ld.sparse_rows[i];
            row.resize(static_cast<Eigen::Index>(m));
            row.reserve(size);
            for (int k = 0; k < size; ++k) {
                if (cols[k] >= m) fail(prefix + ".bin: column index out of range in row " + std::to_string(i));
                row.insertBack(static_cast<Eigen::Index>(cols[k])) = vals[k];
            }
            if (size) ld.snps[i].wind_start = static_cast<int>(cols[0]);
        }
    } else {
        ld.dense_rows.resize(m);
        for (size_t i = 0; i < m; ++i) {
            const SnpRow &s = ld.snps[i];
            if (s.wind_start < 0 || size_t(s.wind_start) + s.wind_size > m)
                fail(prefix + ".info: window of row " + std::to_string(i) + " is outside the matrix");
            ld.dense_rows[i].resize(s.wind_size);
            if (std::fread(ld.dense_rows[i].data(), sizeof(float), s.wind_size, bin) != size_t(s.wind_size))
                fail(prefix + ".bin is shorter than its .info says (row " + std::to_string(i) + ")");
        }
    }
    char extra;
    if (std::fread(&extra, 1, 1, bin) == 1) fail(prefix + ".bin is longer than its .info says");
    std::fclose(bin);
    return ld;
}

// ---------------------------------------------------------------------------------------------
// .ma summary statistics, aligned to the LD SNPs (every LD SNP must be present)
// ---------------------------------------------------------------------------------------------
struct Gwas {
    VectorXf freq, b, se, n;  // per LD SNP, A1 of the LD matrix
};

Gwas read_ma(const std::string &path, const LdMatrix &ld) {
    std::ifstream in(path);
    if (!in) fail("cannot open " + path);
    std::string line;
    std::getline(in, line);
    std::vector<std::string> header = split_ws(line);
    std::map<std::string, size_t> col;
    for (size_t c = 0; c < header.size(); ++c) col[header[c]] = c;
    for (const char *name : {"SNP", "A1", "A2", "freq", "b", "se", "N"})
        if (!col.count(name)) fail(path + ": header has no " + std::string(name) + " column");
    struct Row { std::string a1, a2; float freq, b, se, n; };
    std::unordered_map<std::string, Row> rows;
    size_t line_no = 1;
    while (std::getline(in, line)) {
        ++line_no;
        std::vector<std::string> tok = split_ws(line);
        if (tok.empty()) continue;
        if (tok.size() < header.size()) fail(path + " line " + std::to_string(line_no) + ": too few columns");
        Row r{tok[col["A1"]], tok[col["A2"]], std::stof(tok[col["freq"]]), std::stof(tok[col["b"]]),
              std::stof(tok[col["se"]]), std::stof(tok[col["N"]])};
        rows[tok[col["SNP"]]] = r;
    }
    const size_t m = ld.snps.size();
    Gwas g{VectorXf(m), VectorXf(m), VectorXf(m), VectorXf(m)};
    for (size_t i = 0; i < m; ++i) {
        const SnpRow &s = ld.snps[i];
        auto it = rows.find(s.id);
        if (it == rows.end())
            fail("LD SNP " + s.id + " is not in " + path + " (this baseline needs every LD SNP in the "
                 "summary statistics; it does not shrink LD windows as GCTB does)");
        const Row &r = it->second;
        float sign;
        if (r.a1 == s.a1 && r.a2 == s.a2) sign = 1.0f;
        else if (r.a1 == s.a2 && r.a2 == s.a1) sign = -1.0f;
        else fail("alleles of " + s.id + " differ between " + path + " and the LD matrix");
        g.b[i] = sign * r.b;
        g.freq[i] = sign > 0 ? r.freq : 1.0f - r.freq;
        g.se[i] = r.se;
        g.n[i] = r.n;
        if (!(g.se[i] > 0.0f) || !(g.n[i] > 0.0f) || !(g.freq[i] > 0.0f && g.freq[i] < 1.0f))
            fail(s.id + " in " + path + ": needs se > 0, N > 0 and 0 < freq < 1");
    }
    return g;
}

// ---------------------------------------------------------------------------------------------
// Mixed-model equations of the summary-data model (all float, as GCTB)
// ---------------------------------------------------------------------------------------------
struct Mme {
    std::vector<VectorXf> zpz;                 // band/full: X'X rows over the window
    std::vector<SparseVector<float>> zpz_sp;   // sparse: X'X rows
    VectorXi wind_start, wind_size;
    VectorXf zpz_diag, zpy, ld_sampl_var, snp2pq;
    float ypy = 0.0f, var_phenotypic = 0.0f, nobs = 0.0f;
    bool sparse = false;
};

Mme build_mme(LdMatrix &ld, const Gwas &g) {
    const long m = static_cast<long>(ld.snps.size());
    Mme e;
    e.sparse = ld.sparse();
    e.wind_start.resize(m);
    e.wind_size.resize(m);
    e.zpz_diag.resize(m);
    VectorXf ld_sv_raw(m);  // sum over stored entries of (1 - r^2)^2 / N_ref
    for (long i = 0; i < m; ++i) {
        const SnpRow &s = ld.snps[i];
        float diag = NAN, sv = 0.0f;
        auto visit = [&](long j, float r) {
            float rsq = r * r;
            sv += (1.0f - rsq) * (1.0f - rsq) / s.ref_n;
            if (j == i) diag = r;
        };
        if (e.sparse) {
            for (SparseVector<float>::InnerIterator it(ld.sparse_rows[i]); it; ++it) visit(it.index(), it.value());
        } else {
            for (int k = 0; k < s.wind_size; ++k) visit(s.wind_start + k, ld.dense_rows[i][k]);
        }
        if (std::isnan(diag)) fail("row " + std::to_string(i) + " of the LD matrix stores no diagonal");
        e.zpz_diag[i] = diag;
        ld_sv_raw[i] = sv;
        e.wind_start[i] = s.wind_start;
        e.wind_size[i] = e.sparse ? static_cast<int>(ld.sparse_rows[i].nonZeros()) : s.wind_size;
    }
    float mean_diag = e.zpz_diag.mean();
    if (mean_diag < 0.8f || mean_diag > 1.2f) fail("mean LD diagonal is not close to 1: wrong LD matrix?");

    // phenotypic variance and y'y from medians over SNPs
    VectorXf het_ma = 2.0f * g.freq.array() * (1.0f - g.freq.array());
    VectorXf per_snp_var = het_ma.array() * (g.n.array() * g.se.array().square() + g.b.array().square());
    e.ypy = upper_median(per_snp_var.cwiseProduct(g.n));
    e.var_phenotypic = upper_median(per_snp_var);
    e.nobs = upper_median(g.n);
    // heterozygosity back-derived from (b, se, n); genotypes scaled: D_j = n_j
    e.snp2pq = e.var_phenotypic / (g.n.array() * g.se.array().square() + g.b.array().square());
    VectorXf b_scaled = g.b.array() * e.snp2pq.array().sqrt();
    VectorXf sqrt_n = g.n.array().sqrt();
    if (e.sparse) {
        e.zpz_sp = std::move(ld.sparse_rows);
        for (long i = 0; i < m; ++i)
            for (SparseVector<float>::InnerIterator it(e.zpz_sp[i]); it; ++it)
                it.valueRef() *= sqrt_n[i] * sqrt_n[it.index()];
    } else {
        e.zpz = std::move(ld.dense_rows);
        for (long i = 0; i < m; ++i)
            e.zpz[i].array() *= sqrt_n[i] * sqrt_n.segment(e.wind_start[i], e.wind_size[i]).array();
    }
    e.ld_sampl_var.resize(m);
    for (long i = 0; i < m; ++i) {
        e.ld_sampl_var[i] = (g.n[i] + ld.snps[i].ref_n) / float(m) * ld_sv_raw[i]
                            + float(m - e.wind_size[i]) / float(m);
    }
    e.zpz_diag.array() *= g.n.array();
    e.zpy = e.zpz_diag.cwiseProduct(b_scaled);
    return e;
}

// ---------------------------------------------------------------------------------------------
// Random numbers: Mersenne twister, uniform(0,1), standard normal, gamma (GCTB uses Boost's)
// ---------------------------------------------------------------------------------------------
struct Rng {
    std::mt19937 engine;
    std::uniform_real_distribution<double> unif{0.0, 1.0};
    std::normal_distribution<double> norm{0.0, 1.0};
    explicit Rng(unsigned seed) : engine(seed) {}
    double uniform() { return unif(engine); }
    double normal() { return norm(engine); }
    double gamma(double shape) { return std::gamma_distribution<double>(shape, 1.0)(engine); }
    // scaled inverse chi-square in GCTB's parametrisation: scale / chi2(df), scale a sum
    float inv_chisq(float df, float scale) { return scale / (2.0f * float(gamma(0.5 * df))); }
};

// ---------------------------------------------------------------------------------------------
// The sampler
// ---------------------------------------------------------------------------------------------
struct Sampler {
    const Mme &e;
    Rng rng;
    long m;
    VectorXf gamma, pis, alpha;   // mixture variances (x sigmaSq), weights, Dirichlet prior
    VectorXf values, rcorr;       // effects (genotype-SD scale), r = X'y - X'X beta
    VectorXf snp_store;           // SNPs per component in this sweep
    std::vector<std::vector<unsigned>> snpset;
    float sigma_sq, sigma_sq_scale, vare, vare_scale, varg, hsq = 0.0f;
    const float df = 4.0f;
    float sum_sq = 0.0f, sum2pq = 0.0f;
    unsigned num_nonzeros = 0;
    double sweep_ms = 0.0;        // time of this iteration's effect sweep(s)
    // running means that replace the prior scale of sigmaSq from iteration 2,000 on
    int iter = 0;
    float scale_prior, gen_var_prior;

    Sampler(const Mme &mme, const Options &o)
        : e(mme), rng(o.seed), m(mme.zpy.size()) {
        gamma = Eigen::Map<const VectorXf>(o.gamma.data(), o.gamma.size());
        pis = Eigen::Map<const VectorXf>(o.pi.data(), o.pi.size());
        alpha = VectorXf::Ones(pis.size());
        values = VectorXf::Zero(m);
        rcorr = e.zpy;
        varg = e.var_phenotypic * o.hsq;
        vare = e.var_phenotypic - varg;
        vare_scale = 0.5f * vare;                                 // df 4
        const float slab_mass = o.sigma_sq_start == "gctb" ? 1.0f - pis[0] : gamma.dot(pis);
        sigma_sq = varg / (float(m) * slab_mass);                 // scaled genotypes
        sigma_sq_scale = 0.5f * sigma_sq;                         // df 4
        scale_prior = sigma_sq_scale;
        gen_var_prior = varg;
        snpset.resize(pis.size());
    }

    // one Gibbs sweep over all SNPs in order; GCTB's per-SNP operations
    void sample_effects() {
        std::vector<float> urnd(m), nrnd(m);
        for (long i = 0; i < m; ++i) {
            urnd[i] = float(rng.uniform());
            nrnd[i] = float(rng.normal());
        }
        const int ndist = static_cast<int>(pis.size());
        VectorXf gp = gamma * sigma_sq;
        snp_store.setZero(ndist);
        for (auto &set : snpset) set.clear();
        float ssq = 0.0f, s2pq = 0.0f, nnz = 0.0f;
        VectorXf ll(ndist), pll(ndist), var_b_ls(ndist);
        float *beta = values.data();
        for (long i = 0; i < m; ++i) {
            const float old_sample = beta[i];
            const float varei = e.ld_sampl_var[i] * varg + vare;
            const double rhs = rcorr[i] + e.zpz_diag[i] * old_sample;
            const double b_ls = rhs / e.zpz_diag[i];
            var_b_ls = gp.array() + varei / e.zpz_diag[i];
            ll = -0.5f * var_b_ls.array().log() - float(b_ls * b_ls) / (2.0f * var_b_ls.array())
                 + pis.array().log();
            for (int k = 0; k < ndist; ++k) pll[k] = 1.0f / (ll.array() - ll[k]).exp().sum();
            double cumulative = 0.0;
            const double r = urnd[i];
            int chosen = 0;
            for (int k = 0; k < ndist; ++k) {
                cumulative += pll[k];
                if (r < cumulative) { chosen = k; snp_store[k] += 1.0f; break; }
            }
            snpset[chosen].push_back(static_cast<unsigned>(i));
            if (chosen != 0) {
                const double v1 = e.zpz_diag[i] + varei / gp[chosen];
                beta[i] = float(rhs / v1 + nrnd[i] * std::sqrt(varei / v1));
                add_column(i, old_sample - beta[i]);
                ssq += beta[i] * beta[i] / gamma[chosen];
                s2pq += e.snp2pq[i];
                nnz += 1.0f;
            } else {
                if (old_sample != 0.0f) add_column(i, old_sample);
                beta[i] = 0.0f;
            }
        }
        sum_sq = ssq;
        sum2pq = s2pq;
        num_nonzeros = static_cast<unsigned>(nnz);
    }

    // rcorr += (X'X)_{., i} * delta over the stored window / nonzeros of row i
    void add_column(long i, float delta) {
        if (e.sparse) {
            for (SparseVector<float>::InnerIterator it(e.zpz_sp[i]); it; ++it)
                rcorr[it.index()] += it.value() * delta;
        } else {
            rcorr.segment(e.wind_start[i], e.wind_size[i]) += e.zpz[i] * delta;
        }
    }

    void sample_unknowns() {
        int tries = 0;
        const auto sweep_start = std::chrono::steady_clock::now();
        do {
            sample_effects();
            if (++tries == 100) fail("no SNP effect in the model for 100 sweeps");
        } while (num_nonzeros == 0);
        sweep_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now()
                                                             - sweep_start).count();
        // sigmaSq | effects ~ scaled-inv-chi2 (df 4 prior)
        sigma_sq = rng.inv_chisq(df + float(num_nonzeros), sum_sq + df * sigma_sq_scale);
        // pi | counts ~ Dirichlet(counts + 1)
        VectorXf draws(pis.size());
        double total = 0.0;
        for (long k = 0; k < pis.size(); ++k) {
            draws[k] = float(rng.gamma(snp_store[k] + alpha[k]));
            total += draws[k];
        }
        pis = draws / float(total);
        // genetic and residual variance from b'X'y and b'r
        const float b_zpy = values.dot(e.zpy);
        const float b_rcorr = values.dot(rcorr);
        float model_ss = b_zpy - b_rcorr;
        if (model_ss < 0.0f) model_ss = 0.0f;
        varg = model_ss / e.nobs;
        const float sse = e.ypy - b_zpy - b_rcorr;
        if (sse < 0.0f) fail("residual variance is negative: the effects are blowing up");
        vare = rng.inv_chisq(df + e.nobs, sse + df * vare_scale);
        hsq = varg / e.var_phenotypic;
        if (iter >= 2000) sigma_sq_scale = scale_prior;
        if (++iter < 2000) {
            const float scale_now = 0.5f * varg / (float(m) * gamma.dot(pis));
            gen_var_prior += (varg - gen_var_prior) / float(iter);
            scale_prior += (scale_now - scale_prior) / float(iter);
        }
    }
};

// posterior summaries of the kept iterations (GCTB: after burn-in, every thin-th)
struct Posterior {
    long kept = 0;
    VectorXf effect_mean, pip;
    std::vector<unsigned> nz_index;   // thinned nonzero effects, as GCTB stores them
    std::vector<float> nz_value;
    std::map<std::string, std::vector<float>> scalars;

    explicit Posterior(long m) : effect_mean(VectorXf::Zero(m)), pip(VectorXf::Zero(m)) {}

    void collect(const Sampler &s) {
        ++kept;
        const float w = 1.0f / float(kept);
        effect_mean += (s.values - effect_mean) * w;
        for (long i = 0; i < s.values.size(); ++i) {
            const float nonzero = s.values[i] != 0.0f ? 1.0f : 0.0f;
            pip[i] += (nonzero - pip[i]) * w;
            if (nonzero != 0.0f) { nz_index.push_back(unsigned(i)); nz_value.push_back(s.values[i]); }
        }
        for (long k = 0; k < s.snp_store.size(); ++k)
            scalars["NumSnp" + std::to_string(k + 1)].push_back(s.snp_store[k]);
        for (long k = 0; k < s.pis.size(); ++k)
            scalars["Pi" + std::to_string(k + 1)].push_back(s.pis[k]);
        scalars["NnzSnp"].push_back(float(s.num_nonzeros));
        scalars["SigmaSq"].push_back(s.sigma_sq);
        scalars["ResVar"].push_back(s.vare);
        scalars["GenVar"].push_back(s.varg);
        scalars["hsq"].push_back(s.hsq);
        scalars["hsq_genvar_over_total"].push_back(s.varg / (s.varg + s.vare));
    }

    static double mean(const std::vector<float> &v) {
        return v.empty() ? NAN : std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    }
};

}  // namespace

int main(int argc, char **argv) {
    using clock = std::chrono::steady_clock;
    try {
        Options o = parse_options(argc, argv);
        auto t0 = clock::now();
        LdMatrix ld = read_ldm(o.ldm);
        Gwas gwas = read_ma(o.gwas_summary, ld);
        const std::string ld_type = ld.type;
        long nnz_ld = 0;
        for (const SnpRow &s : ld.snps) nnz_ld += s.wind_size;
        Mme mme = build_mme(ld, gwas);
        const double setup_seconds = std::chrono::duration<double>(clock::now() - t0).count();
        const long m = mme.zpy.size();
        std::cout << "SBayesR baseline: " << m << " SNPs, " << ld_type << " LD with " << nnz_ld
                  << " stored values; Vp " << mme.var_phenotypic << ", median n " << mme.nobs
                  << "; setup " << setup_seconds << " s" << std::endl;

        Sampler sampler(mme, o);
        Posterior post(m);
        std::vector<double> iteration_ms, sweep_ms;
        iteration_ms.reserve(o.chain_length);
        sweep_ms.reserve(o.chain_length);
        for (int it = 1; it <= o.chain_length; ++it) {
            auto start = clock::now();
            sampler.sample_unknowns();
            if (it > o.burn_in && it % o.thin == 0) post.collect(sampler);
            iteration_ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - start).count());
            sweep_ms.push_back(sampler.sweep_ms);
            if (o.out_freq > 0 && it % o.out_freq == 0) {
                std::cout << "Iter " << it;
                for (long k = 0; k < sampler.snp_store.size(); ++k) std::cout << " " << sampler.snp_store[k];
                std::cout << " SigmaSq " << sampler.sigma_sq << " ResVar " << sampler.vare << " GenVar "
                          << sampler.varg << " hsq " << sampler.hsq << std::endl;
            }
        }
        // per-iteration time of the iterations after burn-in (steady state)
        std::vector<double> steady(iteration_ms.begin() + o.burn_in, iteration_ms.end());
        const double median_ms = median_of(steady);
        const double mean_ms = std::accumulate(steady.begin(), steady.end(), 0.0) / double(steady.size());
        const double first_ms = iteration_ms.front();
        const double sweep_median_ms = median_of(std::vector<double>(sweep_ms.begin() + o.burn_in, sweep_ms.end()));

        std::cout << "Posterior means over " << post.kept << " kept iterations:";
        for (const auto &kv : post.scalars) std::cout << " " << kv.first << " " << Posterior::mean(kv.second);
        std::cout << "\nms per iteration after burn-in: median " << median_ms << ", mean " << mean_ms
                  << " (first iteration " << first_ms << "); effect sweep median " << sweep_median_ms
                  << std::endl;
        if (o.json) {
            std::cout.precision(9);
            std::cout << "{\"program\": \"sbayesr_baseline\", \"ld_type\": \"" << ld_type << "\", \"n_snps\": " << m
                      << ", \"ld_stored_values\": " << nnz_ld << ", \"chain_length\": " << o.chain_length
                      << ", \"burn_in\": " << o.burn_in << ", \"thin\": " << o.thin << ", \"kept\": " << post.kept
                      << ", \"setup_seconds\": " << setup_seconds << ", \"ms_per_iteration_median\": " << median_ms
                      << ", \"ms_per_iteration_mean\": " << mean_ms << ", \"first_iteration_ms\": " << first_ms
                      << ", \"sweep_ms_median\": " << sweep_median_ms
                      << ", \"var_phenotypic\": " << mme.var_phenotypic << ", \"posterior_mean\": {";
            bool first = true;
            for (const auto &kv : post.scalars) {
                std::cout << (first ? "" : ", ") << "\"" << kv.first << "\": " << Posterior::mean(kv.second);
                first = false;
            }
            std::cout << "}, \"hsq_trace\": [";
            const std::vector<float> &trace = post.scalars["hsq_genvar_over_total"];
            for (size_t k = 0; k < trace.size(); ++k) std::cout << (k ? ", " : "") << trace[k];
            std::cout << "]}" << std::endl;
        }
    } catch (const std::exception &err) {
        std::cerr << "sbayesr_baseline: error: " << err.what() << std::endl;
        return 1;
    }
    return 0;
}
