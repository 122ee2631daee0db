"""The only code that knows Convex: a trio-native client of Convex's sync protocol.

Importing this package imports ``convex.values`` (for value encoding only). That import runs the
``convex`` package's ``__init__``, which installs the Rust client's logger; it stays silent because
tina never calls into the Rust client (``ConvexInt64`` is the only Rust type used).
"""

from ._cell import LatestValue as LatestValue
from ._protocol import QueryResult as QueryResult
from .client import DEFAULT as DEFAULT
from .client import Backoff as Backoff
from .client import ClientStatistics as ClientStatistics
from .client import ConnectionState as ConnectionState
from .client import ConnectionStatus as ConnectionStatus
from .client import ConvexClient as ConvexClient
from .client import Subscription as Subscription
from .client import WebSocketLike as WebSocketLike
from .client import open_convex_client as open_convex_client
from .client import sync_url as sync_url
from .errors import ConvexAuthError as ConvexAuthError
from .errors import ConvexClientClosed as ConvexClientClosed
from .errors import ConvexClientError as ConvexClientError
from .errors import ConvexConnectionLost as ConvexConnectionLost
from .errors import ConvexError as ConvexError
from .errors import ConvexFatalError as ConvexFatalError
from .errors import ConvexFunctionError as ConvexFunctionError
from .errors import ConvexProtocolError as ConvexProtocolError
from .errors import ConvexTimeout as ConvexTimeout
from .wire import WIRE_NAME as WIRE_NAME
from .wire import WireConverter as WireConverter
from .wire import WireError as WireError
from .wire import make_converter as make_converter

__all__ = [
    "DEFAULT",
    "WIRE_NAME",
    "Backoff",
    "ClientStatistics",
    "ConnectionState",
    "ConnectionStatus",
    "ConvexAuthError",
    "ConvexClient",
    "ConvexClientClosed",
    "ConvexClientError",
    "ConvexConnectionLost",
    "ConvexError",
    "ConvexFatalError",
    "ConvexFunctionError",
    "ConvexProtocolError",
    "ConvexTimeout",
    "LatestValue",
    "QueryResult",
    "Subscription",
    "WebSocketLike",
    "WireConverter",
    "WireError",
    "make_converter",
    "open_convex_client",
    "sync_url",
]
