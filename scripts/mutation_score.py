"""Mutation testing of the formulas that decide our figures, and its score (`make mutants`).

    .venv/bin/python scripts/mutation_score.py [--max-children 2] [--score-only]

Runs `mutmut run` (configured in pyproject.toml's [tool.mutmut]: which files, which tests) on the
functions named in TARGETS, then reads mutmut's results under mutants/ and prints the score:
killed / (mutants - equivalent). EQUIVALENT lists, by mutmut's name, mutants that no test can
tell from the original, each with the reason (docs/testing.md has the same list); mutant numbers
follow the source, so a change to a mutated function means reviewing this list. Exit status 1
when the score is under MIN_SCORE. Not in CI: about 25 minutes on two shared cores from an
empty mutants/. To rerun some mutants only: `mutmut run NAME...`, then --score-only.
"""

import argparse
import fnmatch
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

MIN_SCORE = 0.90
# mutmut names: module.x_function__mutmut_N, module.xǁClassǁmethod__mutmut_N.
TARGETS = [
    "alignaudit.generation.ed.x_ed_combine__mutmut_*",  # the ED formula
    "alignaudit.generation.ed.xǁContrastiveGeneratorǁ_mix__mutmut_*",  # which model is which
    "alignaudit.generation.ed.xǁ_TokenLoopGeneratorǁ_logprobs__mutmut_*",  # normalisation
    "alignaudit.judges.keyword.*",
    "alignaudit.judges.rubric.*",
    "alignaudit.metrics.rates.*",
    "alignaudit.metrics.paired.*",
    "alignaudit.runs.store.*",
    # the run store's atomic writes and its test of a changed configuration
    "alignaudit.jsonfiles.x_write_text_atomic__mutmut_*",
    "alignaudit.jsonfiles.x_write_json_atomic__mutmut_*",
    "alignaudit.jsonfiles.x_changed_keys__mutmut_*",
]
UTF8 = "encoding='utf-8' vs 'UTF-8' names the same codec"
LOCALE = (
    "encoding=None is the locale's encoding: UTF-8 under the UTF-8 locales this runs in (C.UTF-8; "
    "from Python 3.15 the default everywhere, PEP 686)"
)
TRUNCATE = (
    "truncating a file that ends in a newline to just after its last newline changes nothing"
)
UNLINK = "the temporary file always exists when it is removed (mkstemp made it; no rename happened)"
DTYPE = "the mean of a resampled bool or int array is the same float64 as of a float array"
INTEGERS = "rng.integers(n) draws from [0, n) as rng.integers(0, n) does, the same stream"
MINLENGTH = (
    "minlength=len(names): every request name occurs in clusters, so bincount's result is that "
    "long already"
)
WEIGHTS = "np.bincount casts its weights to float64 whatever dtype the array has"
NO_SHARED = (
    "the sample count of a run with no decided judgment is never read: compare_runs raises "
    "'share no request' first"
)
NO_BENCHMARK = (
    "the default is never read: the message is built only when both runs record a benchmark "
    "fingerprint, inside their benchmark block"
)
EQUIVALENT = {
    "alignaudit.judges.rubric.x_parse_judge_reply__mutmut_5":
        "`text or 'XXXX'`: neither an empty reply nor 'XXXX' has a score line",
    "alignaudit.judges.rubric.x_load_judge_template__mutmut_2": LOCALE,
    "alignaudit.judges.rubric.x_load_judge_template__mutmut_4": UTF8,
    "alignaudit.judges.rubric.x_template_record__mutmut_11": UTF8,
    "alignaudit.metrics.paired.x_mcnemar_exact_greater__mutmut_17":
        "range(worse, n + 2): the extra term is comb(n, n + 1) = 0",
    "alignaudit.metrics.paired.x__rate_by_request__mutmut_28": NO_SHARED,
    "alignaudit.metrics.paired.x__rate_by_request__mutmut_35": NO_SHARED,
    "alignaudit.metrics.paired.x_check_same_benchmark__mutmut_23": NO_BENCHMARK,
    "alignaudit.metrics.paired.x_check_same_benchmark__mutmut_25": NO_BENCHMARK,
    "alignaudit.runs.store.x_read_json__mutmut_2": LOCALE,
    "alignaudit.runs.store.x_read_json__mutmut_4": UTF8,
    "alignaudit.runs.store.xǁJsonlLogǁappend__mutmut_6": "ensure_ascii=None is falsy, as False",
    "alignaudit.runs.store.xǁJsonlLogǁappend__mutmut_20": LOCALE,
    "alignaudit.runs.store.xǁJsonlLogǁappend__mutmut_23": LOCALE,
    "alignaudit.runs.store.xǁJsonlLogǁappend__mutmut_27": UTF8,
    "alignaudit.runs.store.xǁJsonlLogǁ_drop_torn_tail__mutmut_9": TRUNCATE,
    "alignaudit.runs.store.xǁJsonlLogǁ_drop_torn_tail__mutmut_12": TRUNCATE,
    "alignaudit.jsonfiles.x_write_json_atomic__mutmut_8": "ensure_ascii=None is falsy, as False",
    "alignaudit.jsonfiles.x_write_text_atomic__mutmut_15": LOCALE,
    "alignaudit.jsonfiles.x_write_text_atomic__mutmut_18": LOCALE,
    "alignaudit.jsonfiles.x_write_text_atomic__mutmut_22": UTF8,
    "alignaudit.jsonfiles.x_write_text_atomic__mutmut_29": UNLINK,
    "alignaudit.jsonfiles.x_write_text_atomic__mutmut_31": UNLINK,
    "alignaudit.generation.ed.xǁ_TokenLoopGeneratorǁ_logprobs__mutmut_9":
        "log_softmax over dim=+1 of [batch, vocab] logits is dim=-1",
    "alignaudit.metrics.rates.x_bootstrap_ci__mutmut_5": DTYPE,
    "alignaudit.metrics.rates.x_bootstrap_ci__mutmut_7": DTYPE,
    "alignaudit.metrics.rates.x_bootstrap_ci__mutmut_15": INTEGERS,
    "alignaudit.metrics.rates.x_cluster_bootstrap_ci__mutmut_14":
        "count= only sizes fromiter's buffer in advance; the array is the same",
    "alignaudit.metrics.rates.x_cluster_bootstrap_ci__mutmut_21": MINLENGTH,
    "alignaudit.metrics.rates.x_cluster_bootstrap_ci__mutmut_23": WEIGHTS,
    "alignaudit.metrics.rates.x_cluster_bootstrap_ci__mutmut_25": WEIGHTS,
    "alignaudit.metrics.rates.x_cluster_bootstrap_ci__mutmut_27": "astype(None) is astype(float64)",
    "alignaudit.metrics.rates.x_cluster_bootstrap_ci__mutmut_31": MINLENGTH,
    "alignaudit.metrics.rates.x_cluster_bootstrap_ci__mutmut_38": INTEGERS,
}
STATUS = {1: "killed", 3: "killed", 0: "survived", None: "not checked", 33: "no tests",
          5: "no tests", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout"}


def targeted(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in TARGETS)


def results(root: Path) -> dict[str, str]:
    statuses = {}
    for meta in sorted((root / "mutants").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if targeted(name):
                statuses[name] = STATUS.get(code, "suspicious")
    return statuses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--score-only", action="store_true", help="read the last run's results")
    args = parser.parse_args()
    root = Path(__file__).resolve().parents[1]
    if not args.score_only:
        mutmut = Path(sys.executable).with_name("mutmut")
        command = [str(mutmut), "run", "--max-children", str(args.max_children), *TARGETS]
        subprocess.run(command, cwd=root, check=False)
    statuses = results(root)
    if not statuses:
        print("no mutmut results under mutants/; run without --score-only first")
        return 1
    counts = Counter(statuses.values())
    equivalent = [n for n in EQUIVALENT if statuses.get(n) == "survived"]
    stale = [n for n in EQUIVALENT if statuses.get(n) not in (None, "survived", "not checked")]
    considered = len(statuses) - len(equivalent) - counts["not checked"]
    score = counts["killed"] / considered if considered else 0.0
    print()
    for name, status in sorted(statuses.items()):
        if status != "killed" and name not in equivalent:
            print(f"{status}: {name}")
    for name in stale:
        print(f"listed as equivalent but {statuses[name]}: {name} (update EQUIVALENT)")
    print(
        f"mutation score: {counts['killed']}/{considered} non-equivalent mutants killed "
        f"({100 * score:.1f}%); {len(equivalent)} equivalent, {len(statuses)} mutants in all "
        f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))})"
    )
    return 0 if score >= MIN_SCORE else 1


if __name__ == "__main__":
    sys.exit(main())
