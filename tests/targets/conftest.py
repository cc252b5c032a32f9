from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import Role, Team, User
from accounts.services import IssuedKey


@pytest.fixture
def viewer(team: Team, make_member: Callable[..., User]) -> User:
    return make_member(team, Role.VIEWER, "viewer@example.test")


@pytest.fixture
def viewer_api(
    viewer: User, team: Team, issue_key: Callable[..., IssuedKey], api: Callable[..., APIClient]
) -> APIClient:
    return api(issue_key(viewer, team).raw_key)


@pytest.fixture
def other_user(make_user: Callable[..., User]) -> User:
    return make_user("other@example.test")


@pytest.fixture
def other_team(other_user: User) -> Team:
    return Team.objects.get(personal_owner=other_user)


@pytest.fixture
def owner_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(viewer: User, team: Team) -> Client:
    client = Client()
    client.force_login(viewer)
    session = client.session
    session["team_id"] = team.pk
    session.save()
    return client
