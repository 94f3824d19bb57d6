"""allauth adapters (the Google web flow for staff signing in to the admin)."""

from __future__ import annotations

from allauth.socialaccount.adapter import DefaultSocialAccountAdapter


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Default behaviour; the API's Google sign-in is ours (accounts.services)."""
