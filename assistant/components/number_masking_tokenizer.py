"""A whitespace tokenizer that shows the classifier a parcel or ticket number as one symbol.

Without it, the character n-grams of each number ("LP4", "5GB", ...) are features like any
other, and the intent of "parcel LP… was damaged" swung between complaint and tracking with the
digits of the number (measured: assistant/README.md, "Numbers masked"). Every match of a
pattern becomes a single token whose text is the pattern's symbol, so intent features see that
a number is there, never which one. Entities are unaffected: RegexEntityExtractor reads the
message text, not the tokens.

The patterns are the `regex:` entries of the training data (assistant/nlu/), given again in
config.yml because a tokenizer is not trained; tests/assistant/test_components.py checks the
two stay the same.
"""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class NumberMaskingTokenizer(WhitespaceTokenizer):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # masks: symbol -> regular expression; a symbol should share no letters with words.
        return {**WhitespaceTokenizer.get_default_config(), "masks": {}}

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self._masks = [
            (symbol, re.compile(pattern, re.IGNORECASE))
            for symbol, pattern in self._config["masks"].items()
        ]

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> NumberMaskingTokenizer:
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        tokens = super().tokenize(message, attribute)
        if attribute != TEXT or not self._masks:
            return tokens
        text = message.get(attribute) or ""
        spans = sorted(
            (match.start(), match.end(), symbol)
            for symbol, pattern in self._masks
            for match in pattern.finditer(text)
        )
        if not spans:
            return tokens
        masked: list[Token] = []
        for token in tokens:
            span = next((s for s in spans if s[0] < token.end and token.start < s[1]), None)
            if span is None:
                masked.append(token)
            elif not masked or masked[-1].start != span[0] or masked[-1].text != span[2]:
                # The first token of a number stands for all of it ("LP 453 805 805 GB").
                masked.append(Token(span[2], span[0], span[1]))
        return masked
