"""Normalisation: every spelling of a path resolves to the canonical one the policy matches."""

from __future__ import annotations

import pytest

from marketplace.gate.normalize import has_query_param, normalize_method, normalize_path
from marketplace.gate.policy.compiled import RouteMatcher
from marketplace.gate.policy.model import load_policy


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("/api/v1/cart", "/api/v1/cart"),
        ("/API/V1/CART", "/api/v1/cart"),
        ("/api/v1/cart/", "/api/v1/cart"),
        ("//api///v1//cart//", "/api/v1/cart"),
        ("/api/v1/./cart", "/api/v1/cart"),
        ("/api/v1/x/../cart", "/api/v1/cart"),
        ("/api/v1/cart/items/..", "/api/v1/cart"),
        ("/../../api/v1/cart", "/api/v1/cart"),
        ("/api/v1/%63art", "/api/v1/cart"),
        ("/api/v1%2fcart", "/api/v1/cart"),
        ("/api/v1%252fcart", "/api/v1/cart"),
        ("/api/v1/%252e%252e/v1/cart", "/api/v1/cart"),
        ("/api/v1/%25252563art", "/api/v1/cart"),
        ("\\api\\v1\\cart", "/api/v1/cart"),
        ("/api/v1/cart%00", "/api/v1/cart"),
        ("/api/v1/ca%00rt", "/api/v1/cart"),
        ("/api/v1/cart;jsessionid=1", "/api/v1/cart"),
        ("/api;x=1/v1/cart", "/api/v1/cart"),
        ("/api/v1/cart.", "/api/v1/cart"),
        ("/api/v1/cart%20", "/api/v1/cart"),
        ("/api/v1/ｃａｒｔ", "/api/v1/cart"),
        ("/api/v1／cart", "/api/v1/cart"),
        ("/", "/"),
        ("", "/"),
        ("/robots.txt", "/robots.txt"),
        ("/products/12", "/products/12"),
    ],
)
def test_paths(raw: str, canonical: str) -> None:
    assert normalize_path(raw) == canonical


@pytest.mark.parametrize(
    ("method", "normal"),
    [("GET", "GET"), ("HEAD", "GET"), ("head", "GET"), ("post", "POST"), ("PROPFIND", "OTHER")],
)
def test_methods(method: str, normal: str) -> None:
    assert normalize_method(method) == normal


def test_query_parameters() -> None:
    assert has_query_param("q=shoes&page=2", "q")
    assert has_query_param("page=2&Q=shoes", "q")
    assert not has_query_param("q=&page=2", "q")
    assert not has_query_param("qq=1", "q")


@pytest.mark.parametrize(
    ("path", "query", "route_class"),
    [
        ("/", "", "catalog"),
        ("/api/v1/products", "", "catalog"),
        ("/api/v1/products", "q=lamp", "search"),
        ("/api/v1/products/7", "q=lamp", "product"),
        ("/products/7", "", "product"),
        ("/products/7/reviews", "", "product"),
        ("/api/v1/cart", "", "cart"),
        ("/api/v1/cart/items/3", "", "cart"),
        ("/api/v1/cartoon", "", "other"),
        ("/api/v1/orders/5", "", "checkout"),
        ("/checkout", "", "checkout"),
        ("/api/v1/me/history", "", "account"),
        ("/api/v1/sessions/current", "", "account"),
        ("/api/v1/help-me-decide", "", "assistant"),
        ("/api/v1/policy", "", "admin"),
        ("/static/store.css", "", "assets"),
        ("/.well-known/http-message-signatures-directory", "", "well-known"),
        ("/robots.txt", "", "robots"),
        ("/healthz", "", "other"),
        ("/no/such/page", "", "other"),
    ],
)
def test_route_classes(path: str, query: str, route_class: str) -> None:
    matcher = RouteMatcher({str(k): v for k, v in load_policy("closed").routes.items()})
    assert matcher.match(path, query) == route_class
