"""othersim: an independently written generator of acoustic leak data, for VALIDATION only.

Import as ``othersim`` (with ``bench/`` on sys.path) or as ``bench.othersim`` (from the repository
root).  Needs only numpy, scipy and soundfile.  README.md states every modelling choice.

Public API
----------
single(seed, ...) -> OtherRecording            one single-logger recording
write_single_set(out_dir, n, seed, ...)        recordings + labels.csv (+ meta.jsonl)
pair(seed, ...) -> OtherPair                   two synchronised recordings + pipe.json + truth
write_pair_set(out_dir, n, seed, ...)          pairNNN/ folders + index.csv
write_fleet(out_dir, n_loggers=..., ...)       stats.csv + visits.csv (+ truth.csv) of a logger fleet
textbook_gcc_phat(a, b, fs, max_delay_s)       the baseline delay estimator
"""

from ._fleet import FleetOptions, write_fleet
from ._gcc import GccResult, textbook_gcc_phat
from ._pair import LEAK_FREE_KINDS, PAIR_CONFOUNDERS, OtherPair, PairOptions, pair, write_pair_set
from ._single import (LABELS, NON_LEAK_CLASSES, OtherRecording, SingleRanges, iter_single_set, single,
                      write_single_set)

__all__ = ["FleetOptions", "GccResult", "LABELS", "LEAK_FREE_KINDS", "NON_LEAK_CLASSES", "OtherPair",
           "OtherRecording", "PAIR_CONFOUNDERS", "PairOptions", "SingleRanges", "iter_single_set", "pair", "single",
           "textbook_gcc_phat", "write_fleet", "write_pair_set", "write_single_set"]
