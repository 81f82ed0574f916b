"""Contacts: the numbers a campaign dials, their upload, listing and search."""
