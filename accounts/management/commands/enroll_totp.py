"""Enrol a staff member's authenticator app for the admin's second factor (TOTP).

    python manage.py enroll_totp staff@example.com [--replace]

Prints, once, the ``otpauth://`` URI (paste it into, or make a QR code of it for, an
authenticator app) and the base32 secret. The device is created confirmed: the admin login
then asks for its 6-digit code. ``--replace`` deletes the member's existing devices first
(a lost phone). The secret is never shown again; run the command again with ``--replace``.
"""

from __future__ import annotations

import base64
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User, normalize_email


class Command(BaseCommand):
    help = "Enrol a staff member's TOTP authenticator for the admin (prints the secret once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email", help="The staff member's email address.")
        parser.add_argument(
            "--replace", action="store_true", help="Delete the member's existing devices first."
        )
        parser.add_argument("--name", default="authenticator", help="A name for the device.")

    def handle(self, *args: Any, **options: Any) -> None:
        email = normalize_email(options["email"])
        user = User.objects.filter(email=email).first()
        if user is None or not user.is_active:
            raise CommandError(f"No active account has the address {email}.")
        if not user.is_staff:
            raise CommandError(f"{email} is not staff; the admin is for staff only.")
        existing = TOTPDevice.objects.filter(user=user)
        if existing.exists() and not options["replace"]:
            raise CommandError(
                f"{email} already has an authenticator; use --replace to enrol a new one "
                "(the old one stops working)."
            )
        existing.delete()
        device = TOTPDevice.objects.create(user=user, name=options["name"], confirmed=True)
        secret = base64.b32encode(device.bin_key).decode("ascii")
        self.stdout.write(f"Enrolled {email}. Shown once, keep it secret:")
        self.stdout.write(f"otpauth URI: {device.config_url}")
        self.stdout.write(f"secret (base32): {secret}")
