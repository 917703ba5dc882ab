"""The provider sessions of a send read the environment once per host (`ProviderSession`); what
they merge must be what requests itself would merge for the same environment and call, so a
deployment behind a proxy or with its own CA bundle sends exactly as before."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from adapters.common import ProviderSession, http_session

URLS = [
    "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json",
    "https://graph.facebook.com/v21.0/1065/messages",
    "http://127.0.0.1:8080/sms/json",
    "http://sms.internal.example:8080/sms/json",
]

ENVIRONMENTS: list[dict[str, str]] = [
    {},
    {"REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt"},
    {"CURL_CA_BUNDLE": "/etc/ssl/certs/curl.pem"},
    {"HTTPS_PROXY": "http://proxy.example:3128", "HTTP_PROXY": "http://proxy.example:3129"},
    {
        "https_proxy": "http://proxy.example:3128",
        "http_proxy": "http://proxy.example:3129",
        "NO_PROXY": "127.0.0.1,.internal.example,graph.facebook.com",
        "REQUESTS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
    },
    {"ALL_PROXY": "socks5://proxy.example:1080", "no_proxy": "*"},
]


def _clear_http_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "requests_ca_bundle", "curl_ca_bundle"):
        monkeypatch.delenv(key, raising=False)
        monkeypatch.delenv(key.upper(), raising=False)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_settings_merged_once_per_host_are_those_requests_would_merge(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]
) -> None:
    _clear_http_environment(monkeypatch)
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    ours, theirs = ProviderSession(), requests.Session()
    ours.proxies = theirs.proxies = {"ftp": "http://ftp-proxy.example:21"}
    calls: list[tuple[Any, ...]] = [
        ({}, None, None, None),
        ({}, False, True, None),  # verify given by the caller: the environment does not override it
        ({"no_proxy": "api.twilio.com"}, None, "/tmp/bundle.pem", None),
        ({"https": "http://explicit.example:1"}, True, None, ("c.pem", "k.pem")),
    ]
    for _ in range(2):  # the second round answers from what the first one kept
        for url in URLS:
            for proxies, stream, verify, cert in calls:
                expected = theirs.merge_environment_settings(url, dict(proxies), stream, verify, cert)
                got = ours.merge_environment_settings(url, dict(proxies), stream, verify, cert)
                assert got == expected, (url, proxies, verify)


def test_a_session_that_does_not_trust_the_environment_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear_http_environment(monkeypatch)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    session = http_session()
    session.trust_env = False
    assert session.merge_environment_settings(URLS[0], {}, None, None, None)["proxies"] == {}
