"""Logged bandit feedback: one data contract, read from the service's database, a CSV file or
DSJSON lines (this service's export, or Personalizer / Decision Service logs: ``dsjson.py``), and
written back out as DSJSON.

``BanditLog`` is what every estimator and candidate policy reads, in the spirit of Open Bandit
Pipeline's ``bandit_feedback`` dict: per round the logged ``action`` (index into that round's
candidates), its ``reward`` and ``pscore`` (the logging propensity), the logging policy's whole
distribution ``logging_pmf`` (n_rounds, n_actions; padded with zeros where a round has fewer
candidates), and the ``features`` exactly as the service logged them (for VW policies): per round
``{"shared": {namespace: {feature: value}}, "actions": [...]}``. A DSJSON log from elsewhere
carries its own namespaces in the same form, and ``interactions`` says how to cross them.

CSV format (one row per decision; header names matter, order does not):

    event_id,time,user_id,title_id,device,genre_affinity,candidates,chosen,propensity,reward,pmf

- ``time``: ISO 8601 with UTC offset; ``device``: tv / mobile / web / tablet or empty;
- ``genre_affinity``: JSON object genre -> weight (e.g. ``{"romance": 0.8, "drama": 0.2}``);
- ``candidates``: artwork ids separated by ``;``, in the order they were offered;
- ``chosen``: the artwork shown; ``propensity``: its probability in (0, 1]; ``reward``: a number;
- ``pmf`` (optional): the logging probability of every candidate, ``;``-separated, same order.
  Without it only the chosen artwork's probability is known and the logging policy itself
  cannot be evaluated (the others can).

Artwork tags for the features come from a catalog (the service's data directory or the demo
catalog), through the service's own feature code.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from artwork.features import build_features, normalize_affinity, parse_time, time_context, validate_device
from artwork.storage import Storage, read_final_decisions

CSV_COLUMNS = ("event_id", "time", "user_id", "title_id", "device", "genre_affinity", "candidates", "chosen",
               "propensity", "reward")


class LogError(ValueError):
    """A log that cannot be read, with the place (line, field) named."""


@dataclass
class BanditLog:
    """Logged decisions with final rewards, in time order."""

    event_ids: list[str]
    user_ids: list[str]
    title_ids: list[str]
    contexts: list[dict]
    features: list[dict]
    candidates: list[list[str]]
    action: np.ndarray
    reward: np.ndarray
    pscore: np.ndarray
    logging_pmf: np.ndarray | None
    timestamps: np.ndarray
    source: str = ""
    meta: dict = field(default_factory=dict)
    #: For a log that carries its own features (a DSJSON log from Personalizer or the Decision
    #: Service): VW ``-q`` arguments crossing its context namespaces with its action namespaces,
    #: which candidate policies and the reward model use in place of the artwork interactions.
    #: None for the service's own artwork features.
    interactions: str | None = None
    #: Per round, the live experiment it was decided in ({"experiment", "arm", "served_arm"}, or
    #: None outside one); None for a log that does not say (CSV, DSJSON from elsewhere).
    experiments: list[dict | None] | None = None

    def __post_init__(self):
        n = len(self.event_ids)
        for name in ("user_ids", "title_ids", "contexts", "features", "candidates", "action", "reward", "pscore",
                     "timestamps"):
            if len(getattr(self, name)) != n:
                raise LogError(f"{name} has {len(getattr(self, name))} entries for {n} rounds")
        if n and not (np.all(self.pscore > 0) and np.all(self.pscore <= 1)):
            bad = int(np.flatnonzero((self.pscore <= 0) | (self.pscore > 1))[0])
            raise LogError(f"round {bad} ({self.event_ids[bad]}): propensity {self.pscore[bad]} is not in (0, 1]")
        if n and not np.all(np.isfinite(self.reward)):
            bad = int(np.flatnonzero(~np.isfinite(self.reward))[0])
            raise LogError(f"round {bad} ({self.event_ids[bad]}): reward is not a finite number")

    @property
    def n_rounds(self) -> int:
        return len(self.event_ids)

    @property
    def n_actions(self) -> int:
        return max((len(c) for c in self.candidates), default=0)

    def candidate_mask(self) -> np.ndarray:
        """(n_rounds, n_actions) True where the round has that many candidates."""
        counts = np.array([len(c) for c in self.candidates])
        return np.arange(self.n_actions)[None, :] < counts[:, None]

    def subset(self, index) -> BanditLog:
        index = np.asarray(index)
        pick = lambda xs: [xs[i] for i in index]  # noqa: E731
        return BanditLog(pick(self.event_ids), pick(self.user_ids), pick(self.title_ids), pick(self.contexts),
                         pick(self.features), pick(self.candidates), self.action[index], self.reward[index],
                         self.pscore[index], None if self.logging_pmf is None else self.logging_pmf[index],
                         self.timestamps[index], self.source, dict(self.meta), self.interactions,
                         None if self.experiments is None else pick(self.experiments))


def _padded(rows: list[list[float]], width: int) -> np.ndarray:
    out = np.zeros((len(rows), width))
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


def build_log(rows: list[dict], source: str, meta: dict | None = None, has_pmf: bool = True,
              interactions: str | None = None) -> BanditLog:
    """A ``BanditLog`` from one dict per round (keys: event_id, ts, user_id, title_id, context,
    features, candidates, pmf, action, pscore, reward)."""
    width = max((len(r["candidates"]) for r in rows), default=0)
    return BanditLog(
        event_ids=[r["event_id"] for r in rows], user_ids=[r["user_id"] for r in rows],
        title_ids=[r["title_id"] for r in rows], contexts=[r["context"] for r in rows],
        features=[r["features"] for r in rows], candidates=[r["candidates"] for r in rows],
        action=np.array([r["action"] for r in rows], dtype=np.int64),
        reward=np.array([r["reward"] for r in rows], dtype=float),
        pscore=np.array([r["pscore"] for r in rows], dtype=float),
        logging_pmf=_padded([r["pmf"] for r in rows], width) if has_pmf else None,
        timestamps=np.array([r["ts"] for r in rows], dtype=float), source=source, meta=meta or {},
        interactions=interactions,
        experiments=[r["experiment"] for r in rows] if rows and all("experiment" in r for r in rows) else None)


# The service's database ------------------------------------------------------------------------

def from_database(path: str | Path, *, policy: str | None = None) -> BanditLog:
    """Every decision with a final reward from a service's SQLite database file, in decision
    order (read-only: the file may be a copy, or a simulation's).

    Decisions awaiting activation or still inside their reward window are left out: their
    reward is not known yet.
    """
    path = Path(path)
    if not path.is_file():
        raise LogError(f"no database at {path}")
    return _from_rows(read_final_decisions(path, policy), f"database {path}")


def from_store(store: Storage, source: str, *, policy: str | None = None) -> BanditLog:
    """``from_database`` for an open store (SQLite or PostgreSQL, as the settings name it);
    ``source`` says where it is, for reports."""
    return _from_rows(store.final_decisions(policy), source)


def _from_rows(rows: list[dict], source: str) -> BanditLog:
    return build_log([{
        "event_id": r["event_id"], "ts": r["created_ts"], "user_id": r["user_id"], "title_id": r["title_id"],
        "context": json.loads(r["context"]), "features": json.loads(r["features"]),
        "candidates": json.loads(r["candidates"]), "pmf": json.loads(r["pmf"]), "action": r["chosen_index"],
        "pscore": r["probability"], "reward": r["reward"],
        "experiment": None if r["experiment"] is None else {"experiment": r["experiment"], "arm": r["arm"],
                                                            "served_arm": r["served_arm"]},
    } for r in rows], source)


# CSV ----------------------------------------------------------------------------------------------

def from_csv(path: str | Path, catalog: list[dict]) -> BanditLog:
    """Decisions from a CSV file (format in the module docstring); features are rebuilt from
    ``catalog`` (titles with their artwork tags) by the service's feature code."""
    artworks = {a["id"]: a for t in catalog for a in t["artwork"]}
    rows, has_pmf = [], None
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise LogError(f"{path}: missing column(s): {', '.join(missing)}")
        for line, rec in enumerate(reader, start=2):
            where = f"{path}:{line}"
            try:
                when = parse_time(rec["time"])
                affinity = normalize_affinity({g: float(w) for g, w in json.loads(rec["genre_affinity"]).items()})
                device = validate_device(rec["device"] or None)
                candidates = [c for c in rec["candidates"].split(";") if c]
                pscore, reward = float(rec["propensity"]), float(rec["reward"])
            except (ValueError, AttributeError, TypeError) as exc:
                raise LogError(f"{where}: {exc}") from None
            unknown = [c for c in candidates if c not in artworks]
            if unknown:
                raise LogError(f"{where}: artwork {unknown[0]!r} is not in the catalog")
            if rec["chosen"] not in candidates:
                raise LogError(f"{where}: chosen artwork {rec['chosen']!r} is not among the candidates")
            row_has_pmf = bool(rec.get("pmf"))
            if has_pmf is None:
                has_pmf = row_has_pmf
            elif has_pmf != row_has_pmf:
                raise LogError(f"{where}: pmf must be given on every row or on none")
            pmf = [float(p) for p in rec["pmf"].split(";")] if row_has_pmf else [0.0] * len(candidates)
            if row_has_pmf and (len(pmf) != len(candidates) or not math.isclose(sum(pmf), 1.0, abs_tol=1e-3)):
                raise LogError(f"{where}: pmf must have one probability per candidate, summing to 1")
            time_ctx = time_context(when)
            arts = [artworks[c] for c in candidates]
            rows.append({
                "event_id": rec["event_id"], "ts": when.timestamp(), "user_id": rec["user_id"],
                "title_id": rec["title_id"], "candidates": candidates, "pmf": pmf,
                "context": {**time_ctx, "device": device, "genre_affinity": affinity},
                "features": build_features(affinity, time_ctx, device, arts),
                "action": candidates.index(rec["chosen"]), "pscore": pscore, "reward": reward,
            })
    return build_log(rows, f"csv {path}", has_pmf=bool(has_pmf))


# DSJSON ---------------------------------------------------------------------------------------

def _ds_namespaces(spaces: dict) -> dict:
    return {ns: dict(feats) for ns, feats in spaces.items()}


def _iso_utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def dsjson_lines(log: BanditLog):
    """Yield one VW decision-service JSON line per round (the format of Azure Personalizer's
    logs, learnable by ``vw --dsjson --cb_explore_adf``). Cost is the negated reward."""
    for i in range(log.n_rounds):
        feats, k = log.features[i], len(log.candidates[i])
        chosen = int(log.action[i])
        order = [chosen] + [j for j in range(k) if j != chosen]
        pmf = log.logging_pmf[i] if log.logging_pmf is not None else None
        record = {
            "_label_cost": -float(log.reward[i]),
            "_label_probability": float(log.pscore[i]),
            "_label_Action": chosen + 1,
            "_labelIndex": chosen,
            "Timestamp": _iso_utc(float(log.timestamps[i])),
            "Version": "1",
            "EventId": log.event_ids[i],
            "a": [j + 1 for j in order],
            "c": {**_ds_namespaces(feats["shared"]),
                  "_multi": [_ds_namespaces(action) for action in feats["actions"]]},
            # without the logging pmf only the chosen action's probability is known: no "p"
            **({"p": [float(pmf[j]) for j in order]} if pmf is not None else {}),
            "VWState": {"m": str(log.meta.get("model", "N/A"))},
            "_meta": {"user_id": log.user_ids[i], "title_id": log.title_ids[i],
                      "candidates": log.candidates[i], "context": log.contexts[i],
                      # the live experiment and arms it was decided in (artwork/experiments.py)
                      **({"experiment": log.experiments[i]} if log.experiments and log.experiments[i] else {})},
        }
        yield json.dumps(record, separators=(",", ":"))


def to_dsjson(log: BanditLog, path: str | Path) -> int:
    """Write the log as DSJSON lines; returns the number written."""
    count = 0
    with open(path, "w") as fh:
        for line in dsjson_lines(log):
            fh.write(line + "\n")
            count += 1
    return count


def from_dsjson(path: str | Path, *, skip_invalid: bool = False) -> BanditLog:
    """Decisions from DSJSON lines: this project's export, or the logs of Azure Personalizer,
    learning-loop and the Decision Service with their own features (``dsjson.read_dsjson``)."""
    from .dsjson import read_dsjson  # here, not at the top: dsjson builds on this module's BanditLog

    return read_dsjson(path, skip_invalid=skip_invalid)
