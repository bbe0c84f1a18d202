"""skynet's control: choose AC commands that keep people comfortable with little energy, safely.

Work in progress: the decision function, safety rules and closed-loop evaluation land here.
"""

from skynet.control._safety import SafetyResult, SafetyState, allowed_set_range, apply_safety
from skynet.control._types import Appliance, Context, ControlConfig, Decision, same_setting

__all__ = [
    "Appliance",
    "Context",
    "ControlConfig",
    "Decision",
    "SafetyState",
    "SafetyResult",
    "apply_safety",
    "allowed_set_range",
    "same_setting",
]
