"""Typed records of a survey's results: located points, ranked lines and areas (JSON at the edge only).

Each record's :meth:`to_json` gives its object of the ``acoustic survey --json`` document
(``docs/schemas/survey.schema.json``).  The numbers a record holds are the reported ones (rounded
once, when it is made, as the document shows them), so that rankings computed from records and
from the document agree.
"""

from __future__ import annotations

import dataclasses

__all__ = ["SurveyPoint", "SurveyLine", "SurveyArea"]


def _r(v, n):
    return None if v is None else round(float(v), n)


@dataclasses.dataclass
class SurveyPoint:
    """A located source: a point to dig (or, with ``explained_by``, a known noise source).

    Attributes
    ----------
    pipe_id : str
    offset_m : float
        Distance (m) from the pipe's start node.
    confidence : float
        Correlation confidence, 0.5 at ``report_z`` to 1 at ``strong_z``.
    loggers : list of str
        Loggers of the pair-nights that place it.
    nearest_logger : dict
        ``logger_id`` and ``distance_m`` (along the pipes).
    x, y : float
        Network coordinates.
    interval_m : (float, float)
        95 % interval of ``offset_m`` (m, on the same pipe).
    sd_m : float
        Standard deviation of ``offset_m`` (m).
    score_z : float
        Evidence score (fused z of the placing pair-nights, each capped).
    n_pairs, n_pair_nights : int
    material : str
    diameter_mm : float
    pipe_length_m : float
    nearest_node : dict
        ``node_id`` and ``distance_m``.
    nights : list of str
        Nights of the placing pair-nights.
    every_night : bool
        Heard about as well every night (``night_balance`` at least the option's).
    night_balance : float
    classifier_leak_probability : float or None
        The nearest logger's classifier probability.
    leakiness : float or None
        What the loggers' own recordings say about it (0-1), the nearest most; orders, never vetoes.
    evidence : list of dict
        The placing pair-nights: loggers, night, delay (s), its s.d. (s), z.
    interval_extends_into : list of str
        Other pipes the interval reaches into.
    explained_by : str or None
        Known equipment or consumption that explains it (then it is a noise source).
    """

    pipe_id: str
    offset_m: float
    confidence: float
    loggers: list
    nearest_logger: dict
    x: float = float("nan")
    y: float = float("nan")
    interval_m: tuple = (float("nan"), float("nan"))
    sd_m: float | None = None
    score_z: float = 0.0
    n_pairs: int = 0
    n_pair_nights: int = 0
    material: str = ""
    diameter_mm: float | None = None
    pipe_length_m: float | None = None
    nearest_node: dict = dataclasses.field(default_factory=dict)
    nights: list = dataclasses.field(default_factory=list)
    every_night: bool = True
    night_balance: float = 1.0
    classifier_leak_probability: float | None = None
    leakiness: float | None = None
    evidence: list = dataclasses.field(default_factory=list)
    interval_extends_into: list = dataclasses.field(default_factory=list)
    explained_by: str | None = None
    decided_by: str = "correlation"

    def to_json(self) -> dict:
        out = {
            "pipe_id": self.pipe_id, "offset_m": _r(self.offset_m, 2), "x": _r(self.x, 3), "y": _r(self.y, 3),
            "interval_m": [_r(self.interval_m[0], 2), _r(self.interval_m[1], 2)], "sd_m": _r(self.sd_m, 2),
            "confidence": _r(self.confidence, 3), "loggers": list(self.loggers), "score_z": _r(self.score_z, 2),
            "n_pairs": int(self.n_pairs), "n_pair_nights": int(self.n_pair_nights), "material": self.material,
            "diameter_mm": self.diameter_mm, "pipe_length_m": _r(self.pipe_length_m, 2),
            "nearest_node": {k: (_r(v, 2) if k == "distance_m" else v) for k, v in self.nearest_node.items()},
            "nearest_logger": {k: (_r(v, 2) if k == "distance_m" else v) for k, v in self.nearest_logger.items()},
            "nights": list(self.nights), "every_night": bool(self.every_night),
            "night_balance": _r(self.night_balance, 3), "decided_by": self.decided_by,
            "classifier_leak_probability": _r(self.classifier_leak_probability, 3),
            "leakiness": _r(self.leakiness, 3),
            "evidence": [{"from_logger": e["from_logger"], "to_logger": e["to_logger"], "night": e["night"],
                          "delay_s": _r(e["delay_s"], 6), "delay_sd_s": _r(e["delay_sd_s"], 7), "z": _r(e["z"], 2)}
                         for e in self.evidence],
        }
        if self.interval_extends_into:
            out["interval_extends_into"] = list(self.interval_extends_into)
        if self.explained_by is not None:
            out["explained_by"] = self.explained_by
        out["offset_sd_m"] = out["sd_m"]  # the sd names its quantity (docs/cli.md); sd_m stays one release
        return out


@dataclasses.dataclass
class SurveyLine:
    """A neighbour pair's pipe run, scored and ranked.

    Attributes
    ----------
    pipe_ids : list of str
    from_logger, to_logger : str
    score : float
        0-1 (``line_score``).
    ranked_by : str
        The kind of evidence that carries its rank (``RANK_TIERS``).
    length_m : float
    materials : list of str
    correlation : dict
        The pair's own correlation: nights, confidence, detected.
    levels : dict or None
        Level difference between the ends against the route's loss (dB), when comparable.
    reasons : list of str
    """

    pipe_ids: list
    from_logger: str
    to_logger: str
    score: float
    ranked_by: str
    length_m: float = 0.0
    materials: list = dataclasses.field(default_factory=list)
    correlation: dict = dataclasses.field(default_factory=dict)
    levels: dict | None = None
    reasons: list = dataclasses.field(default_factory=list)

    def to_json(self) -> dict:
        return {"pipe_ids": list(self.pipe_ids), "from_logger": self.from_logger, "to_logger": self.to_logger,
                "score": _r(self.score, 4), "ranked_by": self.ranked_by, "length_m": _r(self.length_m, 2),
                "materials": list(self.materials), "correlation": dict(self.correlation),
                "levels": None if self.levels is None else dict(self.levels), "reasons": list(self.reasons)}


@dataclasses.dataclass
class SurveyArea:
    """An area (``area`` column, or a cluster of alarmed loggers), scored and ranked."""

    area: str
    loggers: list
    score: float
    ranked_by: str
    alarmed_loggers: list = dataclasses.field(default_factory=list)
    reasons: list = dataclasses.field(default_factory=list)

    def to_json(self) -> dict:
        return {"area": self.area, "loggers": list(self.loggers), "score": _r(self.score, 4),
                "ranked_by": self.ranked_by, "alarmed_loggers": list(self.alarmed_loggers),
                "reasons": list(self.reasons)}
