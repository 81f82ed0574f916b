"""Report exports: call detail, campaign summary, agent performance and disposition summary in JSON, CSV and PDF."""
