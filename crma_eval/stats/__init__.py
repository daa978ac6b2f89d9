"""Statistics for crma_eval: intervals, paired and group tests, multiplicity, bootstrap.

Analysis-only: nothing here imports torch.
"""

from crma_eval.stats.bootstrap import BootstrapResult, mean_difference, paired_bootstrap_ci
from crma_eval.stats.clustered import (
    CLUSTERED_METHOD,
    ClusteredProportion,
    cluster_se,
    clustered_proportion,
    wilson_interval,
)
from crma_eval.stats.groups import (
    GroupSummary,
    PairedTResult,
    WelchResult,
    essentially_constant,
    group_summary,
    paired_t,
    ranges_disjoint,
    welch_t,
)
from crma_eval.stats.multiplicity import benjamini_hochberg, holm
from crma_eval.stats.paired import (
    MCNEMAR_METHODS,
    McNemarResult,
    PairedDifference,
    mcnemar,
    mcnemar_from_pairs,
    paired_difference_ci,
)
from crma_eval.stats.permutation import ALTERNATIVES, PermutationResult, permutation_test
from crma_eval.stats.proportions import PROPORTION_METHODS, method_label, proportion_ci
from crma_eval.stats.signflip import SIGN_FLIP_METHOD, SignFlipResult, sign_flip_test

__all__ = [
    "ALTERNATIVES",
    "CLUSTERED_METHOD",
    "MCNEMAR_METHODS",
    "PROPORTION_METHODS",
    "SIGN_FLIP_METHOD",
    "BootstrapResult",
    "ClusteredProportion",
    "GroupSummary",
    "McNemarResult",
    "PairedDifference",
    "PairedTResult",
    "PermutationResult",
    "SignFlipResult",
    "WelchResult",
    "benjamini_hochberg",
    "cluster_se",
    "clustered_proportion",
    "essentially_constant",
    "group_summary",
    "holm",
    "mcnemar",
    "mcnemar_from_pairs",
    "mean_difference",
    "method_label",
    "paired_bootstrap_ci",
    "paired_difference_ci",
    "paired_t",
    "permutation_test",
    "proportion_ci",
    "ranges_disjoint",
    "sign_flip_test",
    "welch_t",
    "wilson_interval",
]
