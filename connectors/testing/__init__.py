"""Test kit for connectors: local fixture servers, an in-memory sink and the contract suite.

The contract suite is generated in one or two lines per connector::

    from connectors.testing import contract_tests
    TestMyConnector = contract_tests(MyConnector, server=my_server, config=lambda url: {"base_url": url})

``server`` is a callable returning a context manager that starts a local server speaking the
source's wire format and yields its base URL; ``config(url)`` builds a valid spec config for it.
The suite checks: the spec validates and never shows secrets; ``check()`` passes, and fails
with :class:`~connectors.base.CheckError` on bad credentials and on an unreachable host;
every record validates as a RawPost; primary keys are unique; saved cursors never go back;
a run stopped half-way, or crashed by a failing source, resumes with no duplicates and no gaps.

Modules: :mod:`~connectors.testing.servers` (fixture servers), :mod:`~connectors.testing.sink`
(``MemorySink``, ``run_once``), :mod:`~connectors.testing.contract` (``contract_tests``). Import
from ``connectors.testing``: it is the kit's public surface (connector templates and docs use it).
"""

from connectors.testing.contract import FAULT_KINDS, FAULTS, contract_tests
from connectors.testing.servers import (
    Action,
    Chunks,
    Delay,
    FixtureServer,
    Handler,
    Malformed,
    Reply,
    Request,
    Reset,
    Truncate,
    WebsocketFixture,
    dead_url,
    status,
)
from connectors.testing.sink import MemorySink, run_once

__all__ = ["FAULTS", "FAULT_KINDS", "Action", "Chunks", "Delay", "FixtureServer", "Handler", "Malformed",
           "MemorySink", "Reply", "Request", "Reset", "Truncate", "WebsocketFixture", "contract_tests", "dead_url",
           "run_once", "status"]
