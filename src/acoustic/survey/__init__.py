"""Network survey: narrow leak suspects from area to line to point on a pipe network.

- :func:`run_survey` reads a survey folder (``interfaces.md``) and returns a :class:`SurveyResult`
  (typed :class:`SurveyArea`, :class:`SurveyLine`, :class:`SurveyPoint` records inside)
  (``to_json()`` for the ``acoustic survey --json`` document, ``to_geojson()`` for GIS);
- :func:`read_survey` reads only the folder (network, loggers, recording headers);
- :class:`SurveyGraph` is the pipe graph split at the loggers, with routes, neighbours and travel times;
- :func:`simulate_survey` builds a simulated survey folder with a truth file
  (``acoustic simulate survey``).
"""

from __future__ import annotations

from ._folder import RecordingInfo, SurveyFolder, read_survey
from ._graph import SurveyGraph
from ._records import SurveyArea, SurveyLine, SurveyPoint
from ._run import SurveyOptions, SurveyResult, run_survey

__all__ = ["RecordingInfo", "SurveyArea", "SurveyFolder", "SurveyGraph", "SurveyLine", "SurveyOptions", "SurveyPoint",
           "SurveyResult", "read_survey", "run_survey", "simulate_survey"]


def __getattr__(name):
    if name == "simulate_survey":
        from ..simulate._survey import simulate_survey

        return simulate_survey
    raise AttributeError(f"module 'acoustic.survey' has no attribute {name!r}")
