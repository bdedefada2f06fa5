"""Against the emulator: the first list reads one item (only its resourceVersion matters), and
a relist reads the namespace one page at a time, handing each page's Events out before the next
page is fetched — a namespace full of Events is never held in memory at once."""

from __future__ import annotations

import threading
from typing import Any

from emitter import Emitter
from emitter.codec import label_selector
from emitter.config import load_api_client
from pushsvc.bus.watcher import EventWatcher, KubeTransport
from tests.support import wait_until


class CountingTransport(KubeTransport):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pages: list[int] = []  # items per page fetched, in order

    def list_pages(self, *, limit: int | None = None):  # type: ignore[no-untyped-def]
        for page in super().list_pages(limit=limit):
            self.pages.append(len(page.items))
            yield page


def test_the_first_list_reads_one_event_and_a_relist_one_page_at_a_time(kubeapi):
    api_client = load_api_client(str(kubeapi.kubeconfig)).api_client
    with Emitter(api_client=api_client, bus_namespace="bus", channel="pushsvc") as notifier:
        for n in range(7):
            notifier.notify("old", {"n": n})
        transport = CountingTransport(api_client, namespace="bus",
                                      label_selector=label_selector("pushsvc"),
                                      timeout_seconds=2, read_timeout_seconds=5, page_size=3)
        watcher = EventWatcher(transport, namespace="bus", channel="pushsvc", timeout_seconds=2)
        lists_before = kubeapi.stats()["lists"]
        got: list[int] = []
        pages_seen_at: list[int] = []
        stream = watcher.deliveries()

        def run() -> None:
            for delivery in stream:
                got.append(delivery.envelope.messages[0].data[0]["n"])
                pages_seen_at.append(len(transport.pages))
                if len(got) == 5:
                    watcher.stop()

        # The first list and watch: nothing old is delivered.
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        wait_until(lambda: watcher.status.up, what="the watch to open")
        assert transport.pages == [1]
        assert kubeapi.stats()["lists"] == lists_before + 1
        # Five new Events while the watch is frozen; then the history is compacted and the
        # watch dropped: the watcher relists, three Events per page.
        kubeapi.fault("stall")
        for n in range(100, 105):
            notifier.notify("new", {"n": n})
        kubeapi.fault("compact")
        kubeapi.fault("drop_watches")
        thread.join(60)
    assert sorted(got) == [100, 101, 102, 103, 104]
    assert transport.pages[0] == 1 and all(size <= 3 for size in transport.pages), transport.pages
    assert len(transport.pages) >= 1 + 4  # 12 Events in pages of 3
    # Events were handed out while later pages were still unread.
    assert min(pages_seen_at) < len(transport.pages)


def test_pages_of_large_events_shrink_to_a_few_megabytes(kubeapi):
    api_client = load_api_client(str(kubeapi.kubeconfig)).api_client
    with Emitter(api_client=api_client, bus_namespace="bus", channel="pushsvc") as notifier:
        for n in range(70):
            notifier.notify("big", {"n": n, "pad": "y" * 100_000})
    transport = KubeTransport(api_client, namespace="bus",
                              label_selector=label_selector("pushsvc"), timeout_seconds=2,
                              read_timeout_seconds=5)
    sizes = [len(page.items) for page in transport.list_pages()]
    assert sum(sizes) == 70
    # 50 first (the start size), then as many ~100 KB Events as fit in about 4 MiB
    assert sizes[0] == 50 and all(size <= 42 for size in sizes[1:]), sizes
