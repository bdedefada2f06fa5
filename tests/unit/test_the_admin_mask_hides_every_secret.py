"""pushsvc.web.admin.mask_secrets, the one mask every Admin UI report passes: secret-named keys
at any depth, JWT-shaped and Bearer strings, secret URL parameters and the server's own
secrets are hidden; everything else, and the shape of the data, is kept."""

from __future__ import annotations

from pushsvc.settings import Settings
from pushsvc.web.admin import mask_secrets, own_secrets

HIDDEN = "(hidden by pushsvc)"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


def test_secret_named_keys_are_hidden_at_any_depth_in_any_case() -> None:
    data = {"user": "alice", "Token": "t1", "auth": {"token": "t2", "room": "r"},
            "nested": [{"x": {"newPassword": "p"}}], "headers": {"cookie": "c",
                                                                "authorization": "a",
                                                                "x_api_key": "k"},
            "query": {"access_token": "q", "sessionId": "s", "EIO": "4"}}
    masked = mask_secrets(data)
    assert masked == {"user": "alice", "Token": HIDDEN, "auth": HIDDEN,
                      "nested": [{"x": {"newPassword": HIDDEN}}],
                      "headers": {"cookie": HIDDEN, "authorization": HIDDEN,
                                  "x_api_key": HIDDEN},
                      "query": {"access_token": HIDDEN, "sessionId": HIDDEN, "EIO": "4"}}


def test_secret_shaped_strings_are_hidden_wherever_they_are() -> None:
    masked = mask_secrets(("/", "sid", ["my_event", {"data": JWT}, f"Bearer {JWT}",
                                        "see https://x.example/?a=1&access_token=zz",
                                        "Bearer abc", "plain text", 42, None]))
    assert masked == ("/", "sid", ["my_event", {"data": HIDDEN}, HIDDEN, HIDDEN, HIDDEN,
                                   "plain text", 42, None])


def test_tuples_stay_tuples_and_lists_stay_lists() -> None:
    assert isinstance(mask_secrets(("a", ["b"])), tuple)
    assert isinstance(mask_secrets(("a", ["b"]))[1], list)


def test_the_servers_own_secrets_are_hidden_inside_any_text() -> None:
    settings = Settings(admin_ui=True, admin_ui_password="correct horse battery",
                        auth_token="shared-token-0123")
    known = own_secrets(settings)
    assert mask_secrets(["the password is correct horse battery!", "shared-token-0123",
                         b"raw shared-token-0123", "fine"], known) == [
        HIDDEN, HIDDEN, HIDDEN, "fine"]


def test_a_short_own_secret_is_hidden_only_as_a_whole_value() -> None:
    assert mask_secrets(["abc", "xabcx"], ("abc",)) == [HIDDEN, "xabcx"]


def test_data_nested_past_the_depth_limit_is_hidden() -> None:
    deep: object = "leaf"
    for _ in range(100):
        deep = [deep]
    flat = mask_secrets(deep)
    for _ in range(65):
        assert isinstance(flat, list)
        flat = flat[0]
    assert flat == HIDDEN
