"""Offline judges: checks of a preview's output against what the real engine and SDKs accept."""
