"""skynet: machine-learning components for smart air-conditioner control.

Predictions (how will this user feel?), estimations (what will the room do?) and control
(which AC command?). The layers are described in ``architecture.org`` at the repository root.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
