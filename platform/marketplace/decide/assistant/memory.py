"""The assistant's conversation memory: the last turns of recent conversations, bounded.

A conversation is the message list the agent saw (the shopper's messages, the model's answers
and tool calls, the tools' results), keyed by `<account id>:<conversation id>`. Three bounds keep
memory flat whatever shoppers or scripts send:

- at most `max_turns` turns per conversation: a turn starts with a shopper's message, and older
  turns are dropped, so a long chat goes on with its recent context (what a person remembers of
  a chat too) instead of being refused;
- at most `max_conversations` conversations: the least recently used one is forgotten first;
- a conversation idle for `ttl_s` seconds is forgotten.

A forgotten conversation simply starts afresh with the next message. The memory belongs to one
process; with several workers each keeps its own (a conversation continues where its worker
remembers it).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from langchain_core.messages import BaseMessage, HumanMessage

from marketplace.core.clock import Clock


@dataclass(frozen=True)
class _Conversation:
    messages: tuple[BaseMessage, ...]
    used_at: float  # seconds (the app clock's timestamp)


def last_turns(messages: Sequence[BaseMessage], turns: int) -> tuple[BaseMessage, ...]:
    """The messages of the last `turns` turns (a turn starts at a shopper's message)."""
    starts = [i for i, message in enumerate(messages) if isinstance(message, HumanMessage)]
    if len(starts) <= turns:
        return tuple(messages)
    return tuple(messages[starts[-turns] :])


class ConversationMemory:
    """An LRU of conversations with a turn limit and an idle time to live; thread-safe."""

    def __init__(
        self, *, max_conversations: int, max_turns: int, ttl_s: float, clock: Clock
    ) -> None:
        if max_conversations < 1 or max_turns < 1 or ttl_s <= 0:
            raise ValueError("conversation memory bounds must be positive")
        self.max_conversations = max_conversations
        self.max_turns = max_turns
        self.ttl_s = ttl_s
        self._clock = clock
        self._items: OrderedDict[str, _Conversation] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def history(self, thread_id: str) -> list[BaseMessage]:
        """What the conversation remembers (empty when it is new, expired or was evicted)."""
        now = self._clock().timestamp()
        with self._lock:
            self._expire(now)
            conversation = self._items.get(thread_id)
            return list(conversation.messages) if conversation is not None else []

    def save(self, thread_id: str, messages: Sequence[BaseMessage]) -> None:
        """Remember the conversation's messages (its last `max_turns` turns)."""
        now = self._clock().timestamp()
        kept = last_turns(messages, self.max_turns)
        with self._lock:
            self._items[thread_id] = _Conversation(kept, now)
            self._items.move_to_end(thread_id)
            self._expire(now)
            while len(self._items) > self.max_conversations:
                self._items.popitem(last=False)

    def turns(self, thread_id: str) -> int:
        """How many turns the conversation remembers."""
        return sum(isinstance(m, HumanMessage) for m in self.history(thread_id))

    def _expire(self, now: float) -> None:
        # Kept in order of their last save, so only the front can have expired.
        while self._items:
            thread_id, conversation = next(iter(self._items.items()))
            if now - conversation.used_at < self.ttl_s:
                return
            del self._items[thread_id]
