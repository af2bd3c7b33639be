"""rasa-sdk custom actions: a thin adapter onto the dialog validators and backend services."""
