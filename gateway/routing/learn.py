"""Learning from the coordinator: a text model trained on how tickets were actually disposed.

The rules (conversations/routing_score.py) know what a deployer wrote down; the coordinator's
dispositions know what this city really does ("drainage is Perkim here", "Pak RT writes
'kali mampet'"). Every disposal by a person is a labelled example: the ticket's text and the
agency it finally went to. A TF-IDF model over character n-grams (robust to SMS spelling) with
a linear classifier learns them; its probabilities are blended with the rules' confidence
(``learned_weight`` in config/routing.yaml).

A new deployment has no dispositions and starts from the rules alone: no model is written
until ``min_training_cases`` examples of at least two agencies exist. Retrained by a periodic
job (daily) and by ``lapor-gateway routing train``; the model file lives in LAPOR_DATA_DIR.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from conversations import lifecycle as lc
from gateway.store.models import Ticket, TicketEvent

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

MODEL_FILE = "routing_model.pkl"
DEFAULT_MIN_CASES = 50
DEFAULT_WEIGHT = 0.5
# Actor types whose disposals teach the model: people and API clients, not the system's own auto-dispatch.
TEACHERS = frozenset({"operator", "api"})


@dataclass(frozen=True)
class Learned:
    """A trained model and what it was trained on (for the record)."""

    pipeline: Any
    cases: int
    agencies: tuple[str, ...]

    def probabilities(self, text: str) -> dict[str, float]:
        """Agency code -> probability for ``text``."""
        probs = self.pipeline.predict_proba([text])[0]
        return {str(code): float(p) for code, p in zip(self.pipeline.classes_, probs, strict=True)}


def settings(runtime: Runtime) -> Mapping[str, Any]:
    """config/routing.yaml of the snapshot in effect."""
    doc = runtime.config.data.get("routing.yaml")
    return doc if isinstance(doc, dict) else {}


def model_path(runtime: Runtime) -> Path:
    return Path(runtime.settings.data_dir) / MODEL_FILE


def training_cases(session: Session) -> list[tuple[str, str]]:
    """(ticket text, agency code) of every ticket's latest disposal by a person."""
    rows = session.execute(
        select(TicketEvent.ticket_id, TicketEvent.actor_type, TicketEvent.data, Ticket.description)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.action == lc.DISPOSE)
        .order_by(TicketEvent.ticket_id, TicketEvent.id)
    )
    latest: dict[int, tuple[str, str] | None] = {}
    for ticket_id, actor_type, data, description in rows:
        agency = (data or {}).get("agency")
        # A later disposal (after "bukan wewenang") replaces an earlier one.
        latest[ticket_id] = (
            (description, agency) if actor_type in TEACHERS and agency and description else None
        )
    return [case for case in latest.values() if case is not None]


def train(cases: Sequence[tuple[str, str]], min_cases: int = DEFAULT_MIN_CASES) -> Learned | None:
    """A model from ``cases``, or None while there are too few (or only one agency)."""
    agencies = sorted({agency for _, agency in cases})
    if len(cases) < min_cases or len(agencies) < 2:
        return None
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, lowercase=True),
        LogisticRegression(max_iter=2000, C=4.0),
    )
    pipeline.fit([text for text, _ in cases], [agency for _, agency in cases])
    return Learned(pipeline, len(cases), tuple(agencies))


def save(learned: Learned, path: Path) -> None:
    """Write atomically: a worker reading the file never sees half a model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".routing_model.")
    with os.fdopen(fd, "wb") as handle:
        pickle.dump(learned, handle)
    os.replace(tmp, path)


_LOADED: dict[str, tuple[int, Learned | None]] = {}


def load(path: Path) -> Learned | None:
    """The model at ``path`` (cached per modification time), or None when there is none."""
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    hit = _LOADED.get(str(path))
    if hit is not None and hit[0] == mtime:
        return hit[1]
    try:
        with path.open("rb") as handle:
            learned = pickle.load(handle)  # noqa: S301 - our own file in our own data dir
    except Exception:  # a damaged file means: rules alone, and say so
        log.exception("routing model %s unreadable; routing by rules alone", path)
        learned = None
    _LOADED[str(path)] = (mtime, learned if isinstance(learned, Learned) else None)
    return _LOADED[str(path)][1]


def retrain(runtime: Runtime) -> Learned | None:
    """Train on the database's dispositions and write the model; None (and no file) while too few."""
    conf = settings(runtime)
    with runtime.db.session() as session:
        cases = training_cases(session)
    learned = train(cases, int(conf.get("min_training_cases", DEFAULT_MIN_CASES)))
    if learned is not None:
        save(learned, model_path(runtime))
    return learned


def learned_probabilities(runtime: Runtime, text: str) -> dict[str, float] | None:
    """The model's view of ``text``, or None for a deployment still on rules alone."""
    learned = load(model_path(runtime))
    return learned.probabilities(text) if learned is not None else None


def learned_weight(runtime: Runtime) -> float:
    try:
        return min(1.0, max(0.0, float(settings(runtime).get("learned_weight", DEFAULT_WEIGHT))))
    except (TypeError, ValueError):
        return DEFAULT_WEIGHT


def retrain_daily(runtime: Runtime) -> None:
    learned = retrain(runtime)
    if learned is not None:
        log.info(
            "routing model retrained on %d dispositions, %d agencies", learned.cases, len(learned.agencies)
        )
