"""Pipe networks: EPANET/GeoJSON loading, logger sites, routes along pipes."""

from ._io import read_geojson_network, read_inp_network, read_loggers, read_pipes_table, write_inp_network
from ._model import LoggerSite, NetworkPath, NetworkPipe, PipeNetwork

__all__ = ["LoggerSite", "NetworkPath", "NetworkPipe", "PipeNetwork", "read_geojson_network",
           "read_inp_network", "read_loggers", "read_pipes_table", "write_inp_network"]
