"""factory_boy factories for users: every app's tests make their users here.

Users are made through ``User.objects.create_user`` (the manager normalises the email and
hashes the password), so a factory user signs in like a real one. Without ``password`` the
password is unusable, as for an account that only ever signed in with Google.
"""

from __future__ import annotations

from typing import Any

import factory

from accounts.models import User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"shopper{n}@example.com")
    name = factory.Sequence(lambda n: f"Shopper {n}")

    class Params:
        #: ``UserFactory(staff=True)``: a superuser who can use the admin.
        staff = factory.Trait(is_staff=True, is_superuser=True, email_verified=True)

    @classmethod
    def _create(cls, model_class: type[User], *args: Any, **kwargs: Any) -> User:
        password = kwargs.pop("password", None)
        return model_class.objects.create_user(*args, password=password, **kwargs)
