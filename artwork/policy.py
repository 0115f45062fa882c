"""The Vowpal Wabbit policy: probabilities for candidate artwork, online updates, snapshots.

``Model`` wraps one VW workspace behind a lock. In the single-process service the predictor
(request threads) and the learner (a background thread) share it; the two roles only meet
here, so several serving processes could later each hold a read-only ``Model`` loaded from the
learner's published checkpoints.
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from pathlib import Path

import vowpalwabbit
from vowpalwabbit.pyvw import pylibvw  # the native module under the binding

from .features import to_vw

#: VW's probabilities are float32 (about 7 significant digits): two closer than this are equal,
#: say an untrained model's 0.33333331 and 0.33333334.
TIE = 1e-6

#: Answers kept per model version (``Model.predict_lines``); past this many the memo starts over.
MEMO_SIZE = 4096


#: The VW options a client may pass (a retrain's or a candidate arm's arguments), each with what
#: its value must be: None for a flag, else a pattern its value must match whole. Anything else is
#: refused: an option not listed may read or write files (VW has many that do), open sockets,
#: print, stop learning, break restart equality or change how examples are read.
_FLOAT = r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?"
_SMALL_INT = r"([1-9]|[12]\d|3[0-2])"  # 1 to 32: ensembles and seeds that cost at most 32 models
_NAMESPACES = r"[A-Za-z:]{2,3}"
_BITS = r"1[0-9]|2[0-2]"  # 2^10 to 2^22 weights
#: What each value pattern asks for, in words (for the error).
VALUE_WORDS = {_FLOAT: "a number", _SMALL_INT: "a whole number from 1 to 32", _BITS: "a whole number from 10 to 22",
               _NAMESPACES: "two or three namespace letters (or :)", r"[A-Za-z:]{3}": "three namespace letters",
               r"[A-Za-z:]{2,4}": "two to four namespace letters", r"[A-Za-z]": "one namespace letter",
               r"\d{1,9}": "a whole number", r"ips|dm|dr|mtr|sm": "one of ips, dm, dr, mtr, sm"}
ALLOWED_OPTIONS: dict[str, str | None] = {
    "--cb_explore_adf": None, "--cb_type": r"ips|dm|dr|mtr|sm",
    # exploration
    "--epsilon": _FLOAT, "--first": _SMALL_INT, "--bag": _SMALL_INT, "--cover": _SMALL_INT, "--psi": _FLOAT,
    "--nounif": None, "--greedify": None, "--first_only": None, "--softmax": None, "--lambda": _FLOAT,
    "--squarecb": None, "--gamma_scale": _FLOAT, "--gamma_exponent": _FLOAT, "--elim": None,
    "--mellowness": _FLOAT, "--regcb": None, "--regcbopt": None, "--synthcover": None, "--synthcoverpsi": _FLOAT,
    "--synthcoversize": _SMALL_INT, "--rnd": _SMALL_INT, "--rnd_alpha": _FLOAT, "--rnd_invlambda": _FLOAT,
    "--clip_p": _FLOAT,
    # learning
    "-l": _FLOAT, "--learning_rate": _FLOAT, "--power_t": _FLOAT, "--initial_t": _FLOAT,
    "--decay_learning_rate": _FLOAT, "--adaptive": None, "--normalized": None, "--invariant": None,
    "--sgd": None, "--l1": _FLOAT, "--l2": _FLOAT, "--random_seed": r"\d{1,9}",
    # features
    "-q": _NAMESPACES, "--quadratic": _NAMESPACES, "--cubic": r"[A-Za-z:]{3}",
    "--interactions": r"[A-Za-z:]{2,4}", "--ignore": r"[A-Za-z]", "--ignore_linear": r"[A-Za-z]",
    "--keep": r"[A-Za-z]", "--noconstant": None, "-b": _BITS, "--bit_precision": _BITS,
    "--quiet": None,
}


def check_vw_args(vw_args) -> str:
    """``vw_args`` if a client may have a model learned with them, else ValueError saying why:
    they must include ``--cb_explore_adf`` (decisions are multiline examples with one line per
    candidate), use only ``ALLOWED_OPTIONS``, each with a value of its form (``--epsilon 0.1``
    or ``--epsilon=0.1``), and VW must accept them."""
    if not isinstance(vw_args, str) or not vw_args.strip() or len(vw_args) > 1000:
        raise ValueError("vw_args must be a string of Vowpal Wabbit arguments (at most 1000 characters)")
    tokens = vw_args.split()
    if "--cb_explore_adf" not in tokens:
        raise ValueError("vw_args must include --cb_explore_adf")
    position = 0
    while position < len(tokens):
        name, equals, value = tokens[position].partition("=")
        if name not in ALLOWED_OPTIONS:
            raise ValueError(f"vw_args may not use {name[:40]!r}: only options that shape learning and exploration "
                             "are allowed (the API's description of vw_args lists them)")
        pattern = ALLOWED_OPTIONS[name]
        position += 1
        if pattern is None:
            if equals:
                raise ValueError(f"vw_args: {name} takes no value")
            continue
        if not equals:
            if position == len(tokens):
                raise ValueError(f"vw_args: {name} needs a value")
            value = tokens[position]
            position += 1
        if not re.fullmatch(pattern, value):
            raise ValueError(f"vw_args: {name} takes {VALUE_WORDS[pattern]}, not {value[:40]!r}")
    try:
        Model(vw_args).close()
    except Exception as exc:  # VW's own complaint about the arguments
        raise ValueError(f"VW refused the arguments: {exc}") from None
    return vw_args


def workspace_args(vw_args: str, model_file: str | Path | None = None) -> str:
    args = f"{vw_args} --quiet"
    if model_file is not None:
        args += f" -i {model_file}"
    return args


def normalize_pmf(raw: list[float]) -> list[float]:
    """VW's float32 probabilities scaled to sum to exactly 1 (within float64)."""
    total = float(sum(raw))
    if not total > 0:
        raise RuntimeError(f"policy returned no probability mass: {raw!r}")
    return [float(p) / total for p in raw]


def floor_pmf(pmf: list[float], floor: float) -> list[float]:
    """``pmf`` mixed with the uniform distribution just enough that every probability is at
    least ``floor`` (at most 1/K with K candidates: more is impossible), and unchanged if it
    already is.

    The mixture ``(1 - w) * pmf + w / K`` with the smallest such ``w`` keeps the policy's order
    and moves as little mass as possible. The service samples from the mixture and logs the
    mixture's probabilities, so every logged propensity is the one the artwork was drawn with
    and no importance weight exceeds 1 / floor, whatever the exploration the VW arguments ask for.
    """
    k = len(pmf)
    target = min(float(floor), 1.0 / k)
    lowest = min(pmf)
    if lowest >= target:
        return pmf
    weight = (target - lowest) / (1.0 / k - lowest)
    return [(1.0 - weight) * p + weight / k for p in pmf]


def explored(pmf: list[float], index: int) -> bool:
    """Whether showing candidate ``index`` was exploring: it was not (one of) the policy's top."""
    return pmf[index] < max(pmf) - TIE


def top_index(pmf: list[float]) -> int:
    """The policy's pick: the most probable candidate, the first of those within ``TIE`` of it."""
    best = max(pmf)
    return next(i for i, p in enumerate(pmf) if p >= best - TIE)


def sample_index(pmf: list[float], rng: random.Random) -> int:
    """Draw an index with the given probabilities (inverse CDF on one uniform draw)."""
    u = rng.random()
    cumulative = 0.0
    for index, p in enumerate(pmf):
        cumulative += p
        if u < cumulative:
            return index
    # Rounding left u above the last cumulative sum: take the last action with mass.
    return max(i for i, p in enumerate(pmf) if p > 0)


class Model:
    """One VW ``--cb_explore_adf`` workspace and the number of learned events it contains.

    ``seq`` is the learn-queue sequence number of the last event learned: the model is a pure
    function of (VW arguments, learned events start..seq), where ``epoch`` (a reset or retrain
    starts a new one) says where the model's learning started.
    """

    def __init__(self, vw_args: str, model_file: str | Path | None = None, seq: int = 0, epoch: int = 1):
        self.vw_args = vw_args
        self.seq = seq
        self.epoch = epoch
        self._lock = threading.Lock()
        self._vw = vowpalwabbit.Workspace(workspace_args(vw_args, model_file))
        self._memo: dict[str, tuple[float, ...]] = {}
        #: Unix time (seconds) the model last changed: it learned an event here, or was saved
        #: (the loaded file's modification time), for the age /metrics reports.
        self.updated_at = os.path.getmtime(model_file) if model_file is not None else time.time()

    @property
    def version(self) -> int:
        return self.seq

    def predict(self, features: dict) -> tuple[list[float], int]:
        """The probability of each candidate in ``features["actions"]`` (in order, summing to
        1) and the version of the model that gave them."""
        return self.predict_lines(to_vw(features))

    def predict_lines(self, lines: list[str]) -> tuple[list[float], int]:
        """``predict`` for features already in VW text: the shared line, then one per candidate.

        VW's answer is a function of the weights and the text, so it is kept per text until the
        model learns (``learn_text`` empties the memo): a decision with the same context and title as
        an earlier one under the same model version gets the same probabilities without VW,
        and logs that version. Whatever answer is used is the one sampled from and logged."""
        text = "\n".join(lines)
        with self._lock:
            pmf = self._memo.get(text)
            if pmf is None:
                raw = self._predict_joined(text)
                if len(raw) != len(lines) - 1:
                    raise RuntimeError(f"policy returned {len(raw)} probabilities for {len(lines) - 1} actions")
                pmf = tuple(normalize_pmf(raw))
                if len(self._memo) >= MEMO_SIZE:
                    self._memo.clear()
                self._memo[text] = pmf
            version = self.seq
        return list(pmf), version

    def learn(self, features: dict, chosen_index: int, reward: float, probability: float, seq: int) -> None:
        """Learn one final event. Sequence numbers must strictly increase: nothing learned twice."""
        if seq <= self.seq:
            raise RuntimeError(f"learn out of order: model already has event {self.seq}, got {seq}")
        lines = to_vw(features, label=(chosen_index, -float(reward), float(probability)))
        with self._lock:
            self.learn_text(lines)
            self.seq = seq
            self.updated_at = time.time()

    # The VW binding's own ``predict``/``learn`` wrap each parsed line in a Python ``Example``
    # object, which costs three times what VW's parse and predict do (26 us against 8 us for a
    # 6-candidate decision, benchmarks/README.md). These two call the same native functions
    # on the native examples; tests/test_policy.py checks they give what the binding's do.
    # Callers hold ``self._lock``.

    def predict_text(self, lines: list[str]) -> list[float]:
        """VW's probabilities for the multiline example ``lines`` (no lock, no memo, no normalizing)."""
        return self._predict_joined("\n".join(lines))

    def _predict_joined(self, text: str) -> list[float]:
        examples = self._vw._parse(text)
        try:
            pylibvw.vw.predict_multi(self._vw, examples)
            return examples[0].get_action_scores()
        finally:
            pylibvw.vw._finish_example_multi_ex(self._vw, examples)

    def learn_text(self, lines: list[str]) -> None:
        """One online update on the labelled multiline example ``lines`` (no lock). The kept
        answers go first, before the weights change, so none outlives the weights it came from."""
        self._memo.clear()
        examples = self._vw._parse("\n".join(lines))
        try:
            pylibvw.vw.learn_multi(self._vw, examples)
        finally:
            pylibvw.vw._finish_example_multi_ex(self._vw, examples)

    def save(self, path: str | Path) -> int:
        """Write the model atomically to ``path``; returns the seq it includes."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with self._lock:
            self._vw.save(str(tmp))
            seq = self.seq
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return seq

    def weights(self) -> str:
        """Every weight as VW's JSON dump: two models are the same model iff these are equal."""
        with self._lock:
            return self._vw.json_weights()

    def close(self) -> None:
        with self._lock:
            self._vw.finish()
