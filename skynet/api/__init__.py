"""Application functions: what the CLI, the fabfile and the Airflow DAGs call.

One module per area (``skynet.api.data``, ``skynet.api.user_model``, ``skynet.api.db``,
``skynet.api.models``, ``skynet.api.config``). Each function takes the settings and plain
arguments, wires storage to models, and returns plain data; none of them prints except
through an optional progress bar on stderr.
"""
