"""Local emulator stack: Pub/Sub emulator + bqemulator + functions-framework servers.

``python -m shared.tools.stack up|down|status|env``; state (PID files, logs, stack.json) lives in
``.pcf/stack/`` unless another state directory is given.
"""

from shared.tools.stack.core import (
    DEFAULT_STATE_DIR,
    ServiceInfo,
    ServiceStatus,
    StackConfig,
    StackInfo,
    down,
    find_sdk_root,
    load_stack_info,
    resolve_state_dir,
    stack_env,
    status,
    up,
)
from shared.tools.stack.process import StackError
from shared.tools.stack.pubsub import (
    PubSubPlan,
    SubscriptionInfo,
    plan_pubsub,
    provision_pubsub,
    publisher_client,
    pull_subscription_name,
    push_endpoint,
    push_subscription_name,
    subscriber_client,
)
from shared.topology import DeliveryPolicy, FunctionDef, Topology, load_topology

__all__ = [
    "DEFAULT_STATE_DIR",
    "DeliveryPolicy",
    "FunctionDef",
    "PubSubPlan",
    "ServiceInfo",
    "ServiceStatus",
    "StackConfig",
    "StackError",
    "StackInfo",
    "SubscriptionInfo",
    "Topology",
    "down",
    "find_sdk_root",
    "load_stack_info",
    "load_topology",
    "plan_pubsub",
    "provision_pubsub",
    "publisher_client",
    "pull_subscription_name",
    "push_endpoint",
    "push_subscription_name",
    "resolve_state_dir",
    "stack_env",
    "status",
    "subscriber_client",
    "up",
]
