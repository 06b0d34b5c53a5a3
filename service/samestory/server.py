"""The gRPC server: grpc.aio with health, reflection, limits and graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from samestory_client._proto import samestory_pb2 as pb

from .auth import TokenAuth, load_tokens
from .config import Settings
from .detector import Detector
from .errors import ConfigurationError
from .semantic import BatchingEmbedder, Embedder, LocalEmbedder, open_embedder
from .servicer import SamestoryServicer, add_to_server
from .store import open_store

__all__ = ["BackgroundServer", "SamestoryServer", "build_detector", "load_embedder", "serve"]

LOG = logging.getLogger(__name__)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Samestory"].full_name


def load_embedder(settings: Settings) -> LocalEmbedder:
    """The configured model on the configured backend."""
    return open_embedder(
        settings.model_path,
        threads=settings.threads,
        calls=settings.model_calls,
        backend=settings.backend,
        batch_tokens=settings.batch_tokens,
        cache_dir=settings.model_cache,
        max_tokens=settings.max_tokens,
    )


def build_detector(settings: Settings, embedder: Embedder | None = None) -> Detector:
    """The detector over the configured store, loading the model unless one is given."""
    owns = embedder is None
    if embedder is None:
        embedder = load_embedder(settings)
    batching = BatchingEmbedder(
        embedder, wait=settings.batch_wait_ms / 1000, owns=owns, idle_calls=settings.idle_model_calls
    )
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # the index snapshot lives here, whatever the store
    store = open_store(settings.data_dir, settings.store)
    try:
        return Detector(settings, store, batching)
    except Exception:
        store.close()
        batching.close()
        raise


class SamestoryServer:
    """One server on one port; `start`, then `stop` (graceful) or `wait_for_termination`."""

    def __init__(self, settings: Settings, detector: Detector) -> None:
        self.settings = settings
        self.detector = detector
        # For the whole process: the model's calls let go of the interpreter's lock while they run, and each
        # waits for it when done, behind whichever thread runs Python (config.Settings.switch_interval_ms).
        sys.setswitchinterval(settings.switch_interval_ms / 1000)
        # Calls mostly wait on the model's batcher or the writer lock: enough threads for
        # every call allowed at once to have its article in the next batch.
        self._executor = ThreadPoolExecutor(max_workers=settings.max_concurrent_calls, thread_name_prefix="samestory")
        limit = settings.max_message_bytes
        tokens = load_tokens(settings.tokens_file, settings.tokens)
        self._server = grpc.aio.server(
            interceptors=[TokenAuth(tokens)] if tokens else [],
            maximum_concurrent_rpcs=settings.max_concurrent_calls,
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", max(limit, 16 * 1024 * 1024)),
                ("grpc.so_reuseport", 0),
            ],
        )
        add_to_server(SamestoryServicer(detector, self._executor), self._server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        reflection.enable_server_reflection((SERVICE_NAME, reflection.SERVICE_NAME, health.SERVICE_NAME), self._server)
        self.port = 0
        self._stopped = False

    async def start(self) -> int:
        if self.settings.tls_cert is not None:
            try:
                key = self.settings.tls_key.read_bytes()
                cert = self.settings.tls_cert.read_bytes()
            except OSError as exc:
                raise ConfigurationError(f"cannot read the TLS certificate or key: {exc}") from exc
            credentials = grpc.ssl_server_credentials([(key, cert)])
            self.port = self._server.add_secure_port(self.settings.address, credentials)
        else:
            self.port = self._server.add_insecure_port(self.settings.address)
        if self.port == 0:
            raise OSError(f"cannot listen on {self.settings.address}")
        await self._server.start()
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        await self.health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
        LOG.info(
            "serving %s on %s:%d (data in %s)", SERVICE_NAME, self.settings.host, self.port, self.settings.data_dir
        )
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """Health turns NOT_SERVING at once, in-flight calls get `grace` seconds, then the store closes."""
        if self._stopped:
            return
        self._stopped = True
        grace = self.settings.grace_seconds if grace is None else grace
        LOG.info("stopping: draining in-flight calls for up to %.1fs", grace)
        await self.health.enter_graceful_shutdown()
        await self._server.stop(grace)
        self._executor.shutdown(wait=True, cancel_futures=False)
        self.detector.close()
        LOG.info("stopped")

    async def wait_for_termination(self) -> None:
        await self._server.wait_for_termination()


async def _serve(settings: Settings) -> None:
    detector = build_detector(settings)
    server = SamestoryServer(settings, detector)
    await server.start()
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    await server.stop()


def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then drain and exit."""
    asyncio.run(_serve(settings))


class BackgroundServer:
    """A server on its own event loop in a thread: for the demo and the tests."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="samestory-server", daemon=True)
        self._thread.start()
        try:
            self.detector = build_detector(settings, embedder)
            self.server = self._call(self._make)
            self.port = self._call(self.server.start)
        except BaseException:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()
            raise

    async def _make(self) -> SamestoryServer:
        return SamestoryServer(self.settings, self.detector)

    def _call(self, coro_fn):
        return asyncio.run_coroutine_threadsafe(coro_fn(), self._loop).result()

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def stopped(self) -> bool:
        return self._loop.is_closed()

    def stop(self, grace: float | None = 1.0) -> None:
        if self.stopped:
            return
        self._call(lambda: self.server.stop(grace))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> BackgroundServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
