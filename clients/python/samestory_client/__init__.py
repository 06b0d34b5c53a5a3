"""The Python client of Samestory: needs only grpcio and protobuf.

from samestory_client import SamestoryClient, make_article

with SamestoryClient("localhost:50051") as client:
    decision = client.ingest(make_article("a1", text, title="..."))
    print(decision.verdict, decision.cluster_id)
"""

from ._proto import samestory_pb2 as pb
from .client import SamestoryClient, make_article
from .formatting import format_cluster, format_decision

__all__ = ["SamestoryClient", "format_cluster", "format_decision", "make_article", "pb"]
__version__ = "0.1.0"
