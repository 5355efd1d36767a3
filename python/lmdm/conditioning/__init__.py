"""What the model is told besides its context: the sketch controls the player's audio gives (loudness,
brightness, pitch: `controls`, and how the DiT reads them: `sketch`) and the prompt's text embedding (`text`)."""
