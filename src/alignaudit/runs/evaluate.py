"""One evaluation, from options to a finished run directory (an ED alpha sweep included).

`EvalOptions` is the single description of an evaluation: `alignaudit eval` derives its flags
from it, the audit builds one per condition, and a Python user calls

    run_evaluation(EvalOptions(model="default", out=Path("runs/a"), judges=["keyword"]))

What determines the outputs goes into `config.json["run"]`.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from alignaudit import validation
from alignaudit.data.types import Request
from alignaudit.errors import AlignAuditError
from alignaudit.generation.base import Generator, SamplingConfig
from alignaudit.judges import JudgeOptions
from alignaudit.models.hf import DTYPES, LoadOptions
from alignaudit.models.spec import ModelSpec, parse_model_spec
from alignaudit.protocols import (
    DEFAULT_PROTOCOL,
    PROTOCOL_HELP,
    PROTOCOLS,
    fill_unset,
    get_protocol,
)
from alignaudit.report.console import print_results, sweep_table
from alignaudit.runs.environment import environment
from alignaudit.runs.fill import EvalPlan, fill_run
from alignaudit.runs.store import RunDir, write_json_atomic
from alignaudit.settings import (
    comma_list,
    join_names,
    join_numbers,
    retry_errors_setting,
    setting,
    split_names,
    timeout_setting,
)

JUDGE_HELP = (
    "Judge name(s), comma-separated: keyword, refusal, rubric, strongreject, llama-guard, "
    "harmbench-cls."
)
BASE_URL_HELP = (
    "OpenAI-compatible server for openai: models (else $OPENAI_BASE_URL). "
    "The key comes from $OPENAI_API_KEY and is never written anywhere."
)


def parse_alphas(value: str) -> list[float]:
    try:
        alphas = [float(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise AlignAuditError(f"--alpha {value!r}: give numbers, e.g. 0.3 or 0,0.3,0.6,1") from None
    if not alphas or any(a < 0 for a in alphas):
        raise AlignAuditError(f"--alpha {value!r}: every alpha must be >= 0")
    return alphas


def parse_stop(value: str | None) -> list[str] | None:
    """`--stop "Query,Response"`: a comma list; `\\n` is a newline and `\\,` a comma inside one
    string; an empty value means no stop strings at all."""
    if value is None:
        return None
    placeholder = "\0"
    text = value.replace("\\,", placeholder).replace("\\n", "\n").replace("\\t", "\t")
    parts = [part.replace(placeholder, ",") for part in text.split(",")]
    return [part for part in parts if part]


def show_stop(value: list[str] | None) -> str | None:
    if value is None:
        return None
    return ",".join(s.replace(",", "\\,").replace("\n", "\\n") for s in value)


STOP_HELP = (
    "Stop strings, comma-separated (\\n newline, \\, comma): a response ends at the first, "
    "trimmed of whitespace and '#' before it; replaces the plain templates' markers; '' none."
)
SAMPLES_HELP = (
    "Responses drawn per request (needs --temperature > 0); each is judged, rates are over all "
    "samples and 95% intervals resample requests."
)


def judges_setting(default: list[str], help: str = JUDGE_HELP) -> Any:
    return comma_list(default, help=help, flag="--judge", parse=split_names, show=join_names)


def alphas_setting(default: list[float], help: str) -> Any:
    return comma_list(default, help=help, flag="--alpha", parse=parse_alphas, show=join_numbers)


JUDGE_TEMPLATE_HELP = (
    "Your own prompt for the rubric judge (e.g. your copy of the paper's), with {instruction} "
    "and {response} where the request and the response go; recorded in config.json."
)


@dataclass
class EvalOptions:
    model: str = setting(help="default, organism, a folder, org/name, openai:NAME.")
    out: Path = setting(help="Run directory; rerunning the same command resumes.")
    benchmark: str = setting("builtin", help="builtin, builtin-benign, a file/folder, hf:ID.")
    judges: list[str] = judges_setting(["keyword"])
    limit: int | None = setting(None, help="Stratified sample of N requests.")
    protocol: str = setting(DEFAULT_PROTOCOL, help=PROTOCOL_HELP)
    max_new_tokens: int | None = setting(
        None, help="Tokens to generate per response (protocol default; fast: 128)."
    )
    batch_size: int = setting(16, help="Requests per generation batch.")
    seed: int = setting(0, help="Seed for sampling and --limit.")
    system_prompt: str | None = setting(
        None, help="System prompt (default: the one a finetuned model records)."
    )
    user_template: str | None = setting(
        None,
        help="Text each request is sent as, {prompt} standing for it (default: the one a "
        "finetuned model records, e.g. AOA's trigger; '' sends requests as they are).",
    )
    temperature: float | None = setting(
        None, help="0 = greedy decoding (protocol default; fast: 0)."
    )
    top_p: float | None = setting(None, help="Nucleus sampling (protocol default; fast: 1).")
    top_k: int | None = setting(None, help="0 = off (protocol default; fast: 0).")
    samples_per_prompt: int | None = setting(
        None, help=SAMPLES_HELP + " (protocol default; fast: 1, zhou2024: 3)"
    )
    stop: list[str] | None = setting(
        None, help=STOP_HELP, flag_type=str, parse=parse_stop, show=show_stop
    )
    suppress_eos: bool | None = setting(
        None,
        help="Never end on end-of-sequence: only at a stop string or --max-new-tokens "
        "(protocol default; zhou2024: on).",
    )
    min_response_tokens: int | None = setting(
        None,
        help="Draw a response again (up to 10 draws) while it has fewer tokens; 0 = off "
        "(protocol default; zhou2024: 8).",
    )
    template: str = setting(
        "auto",
        help="auto (chat template if the model has one), chat, plain, plain-instructed, a file.",
    )
    dtype: str = setting("auto", help="auto, float32, bfloat16, float16.")
    device: str = setting("auto", help="auto, cpu, cuda, cuda:N, mps.")
    trust_remote_code: bool = setting(False, help="Run model code from the folder/Hub.")
    base_url: str | None = setting(None, help=BASE_URL_HELP, flag="--base-url")
    concurrency: int = setting(8, help="Parallel requests to HTTP servers.")
    judge_model: str | None = setting(
        None, help="Model for LLM/classifier judges: openai:NAME or a local folder."
    )
    judge_base_url: str | None = setting(
        None, help="Server for the judge model, if other than --base-url."
    )
    judge_template: Path | None = setting(None, help=JUDGE_TEMPLATE_HELP)
    ed_base: str | None = setting(
        None, help="Emulated disalignment: the pre-alignment base model (--model is aligned)."
    )
    alphas: list[float] = alphas_setting([0.3], "ED strength; a comma list runs a sweep.")
    base_template: str | None = setting(
        None,
        help="ED base prompt: plain, plain-instructed, chat or a file (protocol default; "
        "fast: plain, zhou2024: plain-instructed).",
    )
    overwrite: bool = setting(False, help="Discard an existing run with another config.")
    retry_errors: bool = retry_errors_setting()
    timeout: float = timeout_setting()
    # Which of the protocol's decoding settings apply: `eval`'s, or the audit's shorter ones.
    protocol_scope: str = setting("eval", cli=False)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        self.validate()

    def validate(self) -> None:
        """Checks that need no model or file; raise AlignAuditError naming the flag."""
        validation.at_least(
            self, 1, "limit", "max_new_tokens", "batch_size", "concurrency", "samples_per_prompt"
        )
        validation.at_least(self, 0, "temperature", "top_k", "min_response_tokens")
        for field, used in (("samples_per_prompt", 1), ("min_response_tokens", 0)):
            value = getattr(self, field)  # None: a preset fills it (checked again then)
            if value is not None and value > used and self.temperature == 0:
                raise AlignAuditError(
                    f"{validation.flag(field)} {getattr(self, field)}: needs sampling "
                    "(--temperature > 0); greedy decoding draws the same response every time"
                )
        validation.within(self, "top_p", 0, 1, open_low=True)
        validation.positive(self, "timeout")
        validation.one_of(self, "dtype", DTYPES)
        validation.device(self)
        validation.one_of(self, "protocol", PROTOCOLS)
        if not self.alphas or any(not alpha >= 0 for alpha in self.alphas):
            raise AlignAuditError(f"--alpha {self.alphas}: every alpha must be >= 0")
        if self.user_template and "{prompt}" not in self.user_template:
            raise AlignAuditError("--user-template must contain {prompt}, where the request goes")

    def is_sweep(self) -> bool:
        return self.ed_base is not None and len(self.alphas) > 1


def benchmark_fingerprint(requests: list[Request]) -> str:
    digest = hashlib.sha256()
    for request in requests:
        digest.update(json.dumps([request.id, request.category, request.prompt]).encode())
    return digest.hexdigest()[:16]


def load_requests(benchmark: str, limit: int | None, seed: int) -> list[Request]:
    from alignaudit.data import load_benchmark, stratified_sample

    requests = load_benchmark(benchmark)
    return stratified_sample(requests, limit, seed) if limit is not None else requests


def judge_template_text(path: Path | str | None) -> str | None:
    """The user's rubric prompt from `--judge-template`, checked for its two slots."""
    from alignaudit.judges.rubric import load_judge_template

    return None if path is None else load_judge_template(Path(path))


# What a fine-tuned model's alignaudit_model.json says about its training, copied into config.json
# so a run names the data its model was trained on (the audit's benign fallback among them).
_TRAINING_KEYS = (
    "recipe", "method", "protocol", "system_prompt", "user_template", "steps",
    "data_source", "data_filter", "safety_data", "counts",
)


def training_record(model: dict[str, Any]) -> dict[str, Any]:
    """The training facts of a model folder written by `finetune` ({} for other models)."""
    from alignaudit.models.spec import ModelRecord

    if model.get("kind") not in ("hf", "peft"):
        return {}
    data = ModelRecord.read(Path(model["path"]), strict=False).data
    return {key: data[key] for key in _TRAINING_KEYS if key in data}


def alpha_label(alpha: float) -> str:
    return f"{alpha:g}"


class Evaluation:
    """What one evaluation shares across its runs: requests, sampling, and models loaded once."""

    def __init__(self, options: EvalOptions) -> None:
        protocol = get_protocol(options.protocol)
        preset = protocol.generation_for(options.protocol_scope).knobs()
        # Every decoding setting the caller left None takes the protocol's value.
        options, self.protocol = fill_unset(options, protocol.name, preset)
        self.options = options
        self.spec = parse_model_spec(options.model)
        self.requests = load_requests(options.benchmark, options.limit, options.seed)
        system_prompt = options.system_prompt
        user_template = options.user_template
        if user_template is None:
            user_template = self.spec.user_template
        self.sampling = SamplingConfig(
            max_new_tokens=options.max_new_tokens,
            temperature=options.temperature,
            top_p=options.top_p,
            top_k=options.top_k,
            seed=options.seed,
            system_prompt=system_prompt if system_prompt is not None else self.spec.system_prompt,
            stop=tuple(options.stop) if options.stop is not None else None,
            suppress_eos=options.suppress_eos,
            min_response_tokens=options.min_response_tokens,
            user_template=user_template or None,
        )
        self.load = LoadOptions(options.dtype, options.device, options.trust_remote_code)
        self.judge_options = JudgeOptions(
            judge_model=options.judge_model,
            base_url=options.judge_base_url or options.base_url,
            concurrency=options.concurrency,
            timeout=options.timeout,
            judge_template=judge_template_text(options.judge_template),
        )
        self._models: dict[str, tuple[Any, Any]] = {}

    def load_model(self, spec: ModelSpec) -> tuple[Any, Any]:
        """Each model folder is loaded once per evaluation, whichever spec names it."""
        from alignaudit.models.hf import load_causal_lm

        if spec.path not in self._models:
            self._models[spec.path] = load_causal_lm(spec, self.load)
        return self._models[spec.path]

    def run_config(self, model: ModelSpec, template: str, ed: dict | None = None) -> dict:
        options = self.options
        run: dict[str, Any] = {
            "model": model.describe(),
            "benchmark": {
                "spec": options.benchmark,
                "limit": options.limit,
                "n": len(self.requests),
                "fingerprint": benchmark_fingerprint(self.requests),
            },
            "sampling": sampling_record(self.sampling),
            "template": template,
            "dtype": options.dtype,
        }
        if options.samples_per_prompt > 1:
            run["samples_per_prompt"] = options.samples_per_prompt
        if ed is not None:
            run["ed"] = ed
        return run

    def evaluate(self, out: Path, run: dict, make_generator: Callable[[], Generator]) -> dict:
        options = self.options
        settings = {
            "batch_size": options.batch_size,
            "device": options.device,
            "base_url": options.base_url,
            "judge_model": options.judge_model,
            "concurrency": options.concurrency,
        }
        if options.judge_template is not None:
            from alignaudit.judges.rubric import template_record

            settings["judge_template"] = template_record(Path(options.judge_template))
        if out.exists() and not out.is_dir():
            raise AlignAuditError(f"--out {out} is a file; give a directory")
        config = {
            "run": run,
            "protocol": self.protocol.to_json(),
            "judges": options.judges,
            "settings": settings,
            "environment": environment(),
        }
        training = training_record(run["model"])
        if training:
            config["model_training"] = training
        plan = EvalPlan(
            run_dir=RunDir(out),
            requests=self.requests,
            make_generator=make_generator,
            judges=options.judges,
            config=config,
            judge_options=self.judge_options,
            batch_size=options.batch_size,
            overwrite=options.overwrite,
            retry_errors=options.retry_errors,
            samples_per_prompt=options.samples_per_prompt,
        )
        return fill_run(plan)

    def backend(self, template: str) -> Any:
        from alignaudit.generation.factory import BackendOptions

        options = self.options
        return BackendOptions(
            template=template,
            batch_size=options.batch_size,
            load=self.load,
            base_url=options.base_url,
            concurrency=options.concurrency,
            timeout=options.timeout,
        )

    def single_model_run(self, out: Path, spec: ModelSpec, template: str) -> dict[str, Any]:
        from alignaudit.generation.factory import build_generator

        def make() -> Generator:
            return build_generator(spec, self.sampling, self.backend(template), self.load_model)

        return self.evaluate(out, self.run_config(spec, template), make)

    def ed_run(self, out: Path, base: ModelSpec, alpha: float) -> dict[str, Any]:
        from alignaudit.generation.factory import build_ed_generator

        options = self.options
        aligned_template = ed_aligned_template(options)
        ed = {
            "base": base.describe(),
            "base_template": options.base_template,
            "alpha": alpha,
            "aligned_template": aligned_template,
        }

        def make() -> Generator:
            return build_ed_generator(
                self.spec,
                base,
                alpha,
                self.sampling,
                self.backend(aligned_template),
                options.base_template,
                self.load_model,
            )

        return self.evaluate(out, self.run_config(self.spec, aligned_template, ed), make)


# Decoding settings added after run directories existed: recorded only when set, so that a run
# written before them still resumes under the same command (config.json's "run" must not change).
LATER_SAMPLING_DEFAULTS = {"stop": None, "suppress_eos": False, "min_response_tokens": 0}


def sampling_record(sampling: SamplingConfig) -> dict[str, Any]:
    record = asdict(sampling)
    for key, default in LATER_SAMPLING_DEFAULTS.items():
        if record[key] == default:
            del record[key]
    if record.get("stop") is not None:
        record["stop"] = list(record["stop"])
    if "min_response_tokens" in record:
        from alignaudit.generation.base import MAX_DRAWS

        record["max_draws"] = MAX_DRAWS
    return record


def ed_aligned_template(options: EvalOptions) -> str:
    return "chat" if options.template == "auto" else options.template


def run_evaluation(options: EvalOptions, console: Console | None = None) -> dict[str, Any]:
    """Run (or resume) an evaluation; with `ed_base`, an alpha sweep. Returns the results (a
    sweep: {"alphas", "runs"}). With a console, prints the tables `alignaudit eval` prints."""
    evaluation = Evaluation(options)
    if options.ed_base is not None:
        summary = _run_ed(evaluation, console)
        _print_protocol(evaluation, console)
        return summary
    results = evaluation.single_model_run(options.out, evaluation.spec, options.template)
    if console is not None:
        print_results(results, console, title=str(options.out))
        _print_protocol(evaluation, console)
        console.print(
            f"wrote {options.out}/ (config.json, generations.jsonl, judgments.jsonl, results.json)"
        )
    return results


def _print_protocol(evaluation: Evaluation, console: Console | None) -> None:
    if console is not None:
        line = f"protocol: {evaluation.protocol.line()}"
        console.print(line, highlight=False, markup=False, soft_wrap=True)


def _run_ed(evaluation: Evaluation, console: Console | None) -> dict[str, Any]:
    """Aligned alone, base alone, and one ED run per alpha, all on models loaded once."""
    options = evaluation.options
    aligned, base = evaluation.spec, parse_model_spec(options.ed_base or "")
    if not {aligned.kind, base.kind} <= {"hf", "peft"}:
        raise AlignAuditError(
            "emulated disalignment needs next-token probabilities of local models"
        )
    if not options.is_sweep():
        result = evaluation.ed_run(options.out, base, options.alphas[0])
        if console is not None:
            print_results(result, console, title=str(options.out))
        return result
    runs = {
        "aligned": evaluation.single_model_run(
            options.out / "aligned", aligned, ed_aligned_template(options)
        ),
        "base": evaluation.single_model_run(options.out / "base", base, options.base_template),
    }
    for alpha in options.alphas:
        name = f"alpha-{alpha_label(alpha)}"
        runs[name] = evaluation.ed_run(options.out / name, base, alpha)
    summary = {"alphas": options.alphas, "runs": runs}
    write_json_atomic(options.out / "sweep.json", summary)
    if console is not None:
        console.print(sweep_table(runs, f"emulated disalignment sweep — {options.out}"))
    return summary
