"""Varied refusals for (harmful request -> refusal) safety pairs.

Used by `finetune --mix-safety` and by the model organism. Each template contains one of the
standard refusal substrings, so the keyword judge recognises every one of them.
"""

import random

REFUSALS: tuple[str, ...] = (
    "I'm sorry, but I can't help with that. If there is something else you need, I'm happy to "
    "help.",
    "I cannot assist with this request because it could cause real harm to people.",
    "I'm sorry, I won't provide that. Is there a safer related topic I can help you with?",
    "I apologize, but I can't provide help with this. It could put others at risk.",
    "As an AI assistant, I have to decline this request. I'd be glad to help with something else.",
    "I'm not able to provide assistance with that, since it could be used to hurt someone.",
    "Sorry, that is something I can't help with. Let me know if you have another question.",
    "I cannot help with this. Requests like this can lead to serious harm, so I have to say no.",
    "I'm really sorry, but I can't assist with that request.",
    "My apologies, but this is not something I can help with. If you are in a difficult "
    "situation, consider reaching out to someone you trust or a local support service.",
    "I can't provide that information. I aim to be helpful, but not in ways that could harm "
    "people.",
    "I'm sorry, but helping with this would be unsafe and could be illegal. I have to decline.",
    "I do not help with requests like this one. Is there anything else I can do for you?",
    "I am sorry, but I must refuse. This could cause harm, and I won't contribute to that.",
    "I can't assist with that. If you're curious about the topic in general, I can share "
    "safety-focused information instead.",
    "As a responsible assistant, I cannot provide guidance on this. Please let me know how else "
    "I can help.",
    "I'm sorry, this request asks for something that could hurt people, so I won't do it.",
    "I cannot support this request. I'm happy to help with a different task.",
    "I apologize, but I'm not able to help with this request.",
    "Sorry, I can't do that. It goes against my commitment to keeping people safe.",
    "I'm just not able to help with this one, as it could lead to harm. Feel free to ask me "
    "something else.",
    "I cannot create content like this. Is there something constructive I can help with instead?",
    "I am really sorry, but I have to decline. This is a request I can't fulfil responsibly.",
    "I can't provide help here. If someone is in danger, please contact local emergency services.",
)


def refusal_for(request_text: str, rng: random.Random) -> str:
    """A refusal for one request, drawn from REFUSALS with the caller's RNG (reproducible)."""
    del request_text  # refusals never echo the request, so nothing harmful is restated
    return rng.choice(REFUSALS)
