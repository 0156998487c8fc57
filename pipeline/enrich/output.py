"""`wirewatch annotate` output: one JSON line per text (schemas/annotation.schema.json).

Kept apart from the annotator so exporting the schema does not load spaCy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.records import Quantity, Span

if TYPE_CHECKING:
    from pipeline.enrich.annotate import Annotation


class EntityOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: int
    end: int
    text: str
    label: str
    canonical: str


class ClaimOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Span | None
    cue: Span | None
    content: Span
    speaker: str | None
    kind: Literal["direct", "indirect", "mixed"]
    quantities: list[Quantity]


class AnnotationLine(BaseModel):
    """One line of `wirewatch annotate` output; offsets index the input text as given."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="the file's stem, or the input line's id")
    entities: list[EntityOut]
    claims: list[ClaimOut]

    @classmethod
    def of(cls, id: str, annotation: Annotation) -> AnnotationLine:
        return cls(
            id=id,
            entities=[EntityOut(**e.model_dump()) for e in annotation.entities],
            claims=[
                ClaimOut(**c.model_dump(include=set(ClaimOut.model_fields)))
                for c in annotation.claims
            ],
        )
