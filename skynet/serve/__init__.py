"""The REST service (``skynet serve``): predictions and control decisions over HTTP.

A top layer beside :mod:`skynet.cli`: it parses a request and calls one
:mod:`skynet.api.serving` function. FastAPI on uvicorn; the models are held in memory, each
by reference (``serve.user_model``, ``serve.estimation``), and swapped when a new version is
promoted (the registry is polled every ``serve.reload_interval`` s).

=====================================  ===============================================
``POST /v1/user_model/predict``        rows in; expected vote, median, 7 probabilities
``POST /v1/estimation/predict``        a room's state and commands in; forecasts out
``POST /v1/control/decide``            a device's context in; the worker's decision out
``GET /livez``, ``/readyz``            alive; models loaded and the store answering
``GET /metrics``                       Prometheus
``GET /openapi.json``, ``/docs``       the schema and its page
=====================================  ===============================================
"""

from skynet.serve._run import probe, run

__all__ = ["create_app", "run", "probe"]


def __getattr__(name: str) -> object:
    if name == "create_app":  # FastAPI is imported only by what needs the application
        from skynet.serve._app import create_app

        return create_app
    raise AttributeError(f"module 'skynet.serve' has no attribute {name!r}")
