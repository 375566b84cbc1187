"""Masking of personal data (names, phones, ID numbers) for every output by default."""

from __future__ import annotations

import numpy as np
import pandas as pd


def mask_name(name: str | None) -> str | None:
    """Mask a personal name, keeping the first and last character.

    ``张三`` → ``张*``, ``张小明`` → ``张*明``, ``欧阳小明`` → ``欧**明``.
    """
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return None
    s = str(name)
    if len(s) <= 1:
        return "*"
    if len(s) == 2:
        return s[0] + "*"
    return s[0] + "*" * (len(s) - 2) + s[-1]


def mask_phone(phone: str | None) -> str | None:
    """Mask a phone number, keeping the first three and last four digits (138****1234)."""
    if phone is None or (isinstance(phone, float) and np.isnan(phone)):
        return None
    s = str(phone)
    if len(s) < 8:
        return "*" * len(s)
    return s[:3] + "*" * (len(s) - 7) + s[-4:]


def mask_id_number(value: str | None) -> str | None:
    """Mask an 18-digit resident ID, keeping the first 6 and last 4 characters."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    s = str(value)
    if len(s) < 10:
        return "*" * len(s)
    return s[:6] + "*" * (len(s) - 10) + s[-4:]


def mask_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``df`` with the ``name``, ``phone`` and ``id_number`` columns masked."""
    out = df.copy()
    for col, fn in (("name", mask_name), ("phone", mask_phone), ("id_number", mask_id_number)):
        if col in out.columns:
            out[col] = out[col].map(fn)
    return out
