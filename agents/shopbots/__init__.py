"""Outside agents for the agentic-commerce sandbox: they see the platform only over HTTP."""

from shopbots.client import AgentClient, Exchange, Step
from shopbots.gate import GateAnswer, parse_answer
from shopbots.identity import Identity
from shopbots.roster import ROSTER, AgentRun, RunOptions, run_agent
from shopbots.signing import WebBotAuthSigner, jwk_thumbprint
from shopbots.timing import TimingPolicy

__all__ = [
    "ROSTER",
    "AgentClient",
    "AgentRun",
    "Exchange",
    "GateAnswer",
    "Identity",
    "RunOptions",
    "Step",
    "TimingPolicy",
    "WebBotAuthSigner",
    "jwk_thumbprint",
    "parse_answer",
    "run_agent",
]
