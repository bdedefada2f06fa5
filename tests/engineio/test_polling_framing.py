"""Long-polling framing (engine.io-protocol README, "HTTP long-polling"): a POST is answered
``ok``; packets are joined with the record separator ``\\x1e``; binary travels as ``b`` +
base64; a second concurrent GET closes the session (the first gets ``1``, the second 400); a
client's close ``1`` answers the pending GET ``6``; an invalid payload closes the session."""

from __future__ import annotations

import json
import threading
import time

import requests

from tests.engineio.conftest import AppServer


def _session(server: AppServer) -> str:
    text = requests.get(f"{server.url}/engine.io/?EIO=4&transport=polling", timeout=10).text
    return str(json.loads(text[1:])["sid"])


def _url(server: AppServer, sid: str) -> str:
    return f"{server.url}/engine.io/?EIO=4&transport=polling&sid={sid}"


def test_a_post_is_answered_ok_and_packets_come_back_joined(echo: AppServer) -> None:
    sid = _session(echo)
    post = requests.post(_url(echo, sid), data="4test1\x1e4test2\x1ebAQIDBA==", timeout=10)
    assert (post.status_code, post.text) == (200, "ok")
    poll = requests.get(_url(echo, sid), timeout=10)
    assert (poll.status_code, poll.text) == (200, "4test1\x1e4test2\x1ebAQIDBA==")


def test_a_second_concurrent_poll_closes_the_session(echo: AppServer) -> None:
    sid = _session(echo)
    answers: list[requests.Response] = []

    def poll(suffix: str = "") -> None:
        answers.append(requests.get(_url(echo, sid) + suffix, timeout=10))

    waiting = threading.Thread(target=poll)
    waiting.start()
    time.sleep(0.1)  # ordering only: the first GET is waiting (the first ping is at 1.5 s)
    poll("&t=burst")
    waiting.join(10)
    # The one that waited gets the close packet, the other 400 (whichever came first).
    assert sorted((r.status_code, r.text if r.status_code == 200 else "") for r in answers) \
        == [(200, "1"), (400, "")]
    assert requests.get(_url(echo, sid), timeout=10).status_code == 400


def test_the_clients_close_answers_the_pending_poll_with_a_noop(echo: AppServer) -> None:
    sid = _session(echo)
    answers: list[requests.Response] = []
    waiting = threading.Thread(target=lambda: answers.append(
        requests.get(_url(echo, sid), timeout=10)))
    waiting.start()
    time.sleep(0.1)  # ordering only: the GET is waiting
    assert requests.post(_url(echo, sid), data="1", timeout=10).status_code == 200
    waiting.join(10)
    assert (answers[0].status_code, answers[0].text) == (200, "6")
    assert requests.get(_url(echo, sid), timeout=10).status_code == 400


def test_an_invalid_payload_closes_the_session(echo: AppServer) -> None:
    sid = _session(echo)
    assert requests.post(_url(echo, sid), data="abc", timeout=10).status_code == 400
    assert requests.get(_url(echo, sid), timeout=10).status_code == 400
