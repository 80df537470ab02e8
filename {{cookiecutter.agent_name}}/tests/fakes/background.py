"""Serves aiohttp fakes on loopback from a background thread, so any test can call them."""

import asyncio
import ssl
import threading

from aiohttp import web


class BackgroundServers:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._runners: list[web.AppRunner] = []

    def serve(self, app: web.Application, ssl_context: ssl.SSLContext | None = None) -> str:
        """Starts `app` on a free loopback port and returns its `http://127.0.0.1:port` root (https://
        with `ssl_context`)."""
        return asyncio.run_coroutine_threadsafe(self._serve(app, ssl_context), self.loop).result(10)

    async def _serve(self, app: web.Application, ssl_context: ssl.SSLContext | None) -> str:
        # Open WebSockets from the agent must not hold the shutdown up.
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        self._runners.append(runner)
        port = runner.addresses[0][1]
        return f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"

    def close(self) -> None:
        async def shutdown():
            for runner in self._runners:
                await runner.cleanup()
            # A fake still inside a scripted delay is cancelled rather than left to outlive the loop.
            pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
