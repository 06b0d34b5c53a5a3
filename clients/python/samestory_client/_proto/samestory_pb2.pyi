import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Verdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VERDICT_UNSPECIFIED: _ClassVar[Verdict]
    EXACT_DUPLICATE: _ClassVar[Verdict]
    NEAR_DUPLICATE: _ClassVar[Verdict]
    SAME_EVENT: _ClassVar[Verdict]
    NEW_STORY: _ClassVar[Verdict]

class AlignmentKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALIGNMENT_KIND_UNSPECIFIED: _ClassVar[AlignmentKind]
    VERBATIM: _ClassVar[AlignmentKind]
    VARIANT: _ClassVar[AlignmentKind]
    PARTIAL: _ClassVar[AlignmentKind]
    PARAPHRASE: _ClassVar[AlignmentKind]
VERDICT_UNSPECIFIED: Verdict
EXACT_DUPLICATE: Verdict
NEAR_DUPLICATE: Verdict
SAME_EVENT: Verdict
NEW_STORY: Verdict
ALIGNMENT_KIND_UNSPECIFIED: AlignmentKind
VERBATIM: AlignmentKind
VARIANT: AlignmentKind
PARTIAL: AlignmentKind
PARAPHRASE: AlignmentKind

class Article(_message.Message):
    __slots__ = ("id", "title", "text", "published_at", "source", "url")
    ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    id: str
    title: str
    text: str
    published_at: _timestamp_pb2.Timestamp
    source: str
    url: str
    def __init__(self, id: _Optional[str] = ..., title: _Optional[str] = ..., text: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ..., url: _Optional[str] = ...) -> None: ...

class CheckRequest(_message.Message):
    __slots__ = ("article",)
    ARTICLE_FIELD_NUMBER: _ClassVar[int]
    article: Article
    def __init__(self, article: _Optional[_Union[Article, _Mapping]] = ...) -> None: ...

class IngestRequest(_message.Message):
    __slots__ = ("article",)
    ARTICLE_FIELD_NUMBER: _ClassVar[int]
    article: Article
    def __init__(self, article: _Optional[_Union[Article, _Mapping]] = ...) -> None: ...

class Match(_message.Message):
    __slots__ = ("article_id", "cluster_id", "lexical_score", "semantic_score", "combined_score", "relation", "containment", "entity_overlap", "days_apart", "cluster_entity_similarity", "cluster_lead_similarity", "cluster_year_conflict", "cluster_year_mismatch", "cluster_days_spanned")
    ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    LEXICAL_SCORE_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_SCORE_FIELD_NUMBER: _ClassVar[int]
    COMBINED_SCORE_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    CONTAINMENT_FIELD_NUMBER: _ClassVar[int]
    ENTITY_OVERLAP_FIELD_NUMBER: _ClassVar[int]
    DAYS_APART_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ENTITY_SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_LEAD_SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_YEAR_CONFLICT_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_YEAR_MISMATCH_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_DAYS_SPANNED_FIELD_NUMBER: _ClassVar[int]
    article_id: str
    cluster_id: str
    lexical_score: float
    semantic_score: float
    combined_score: float
    relation: Verdict
    containment: float
    entity_overlap: float
    days_apart: float
    cluster_entity_similarity: float
    cluster_lead_similarity: float
    cluster_year_conflict: bool
    cluster_year_mismatch: bool
    cluster_days_spanned: float
    def __init__(self, article_id: _Optional[str] = ..., cluster_id: _Optional[str] = ..., lexical_score: _Optional[float] = ..., semantic_score: _Optional[float] = ..., combined_score: _Optional[float] = ..., relation: _Optional[_Union[Verdict, str]] = ..., containment: _Optional[float] = ..., entity_overlap: _Optional[float] = ..., days_apart: _Optional[float] = ..., cluster_entity_similarity: _Optional[float] = ..., cluster_lead_similarity: _Optional[float] = ..., cluster_year_conflict: _Optional[bool] = ..., cluster_year_mismatch: _Optional[bool] = ..., cluster_days_spanned: _Optional[float] = ...) -> None: ...

class Span(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class Quote(_message.Message):
    __slots__ = ("text", "speaker", "speaker_mention", "cue", "span", "parts", "speaker_span", "continues")
    TEXT_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_MENTION_FIELD_NUMBER: _ClassVar[int]
    CUE_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    SPEAKER_SPAN_FIELD_NUMBER: _ClassVar[int]
    CONTINUES_FIELD_NUMBER: _ClassVar[int]
    text: str
    speaker: str
    speaker_mention: str
    cue: str
    span: Span
    parts: _containers.RepeatedCompositeFieldContainer[Span]
    speaker_span: Span
    continues: bool
    def __init__(self, text: _Optional[str] = ..., speaker: _Optional[str] = ..., speaker_mention: _Optional[str] = ..., cue: _Optional[str] = ..., span: _Optional[_Union[Span, _Mapping]] = ..., parts: _Optional[_Iterable[_Union[Span, _Mapping]]] = ..., speaker_span: _Optional[_Union[Span, _Mapping]] = ..., continues: _Optional[bool] = ...) -> None: ...

class QuoteAlignment(_message.Message):
    __slots__ = ("quote", "other_article_id", "other_quote", "span", "other_span", "similarity", "kind")
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    OTHER_ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    OTHER_QUOTE_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    OTHER_SPAN_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    quote: Quote
    other_article_id: str
    other_quote: Quote
    span: Span
    other_span: Span
    similarity: float
    kind: AlignmentKind
    def __init__(self, quote: _Optional[_Union[Quote, _Mapping]] = ..., other_article_id: _Optional[str] = ..., other_quote: _Optional[_Union[Quote, _Mapping]] = ..., span: _Optional[_Union[Span, _Mapping]] = ..., other_span: _Optional[_Union[Span, _Mapping]] = ..., similarity: _Optional[float] = ..., kind: _Optional[_Union[AlignmentKind, str]] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("article_id", "verdict", "cluster_id", "new_cluster", "matches", "quotes", "aligned_quotes", "stored", "reason", "published_at", "merged_cluster_ids")
    ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_CLUSTER_FIELD_NUMBER: _ClassVar[int]
    MATCHES_FIELD_NUMBER: _ClassVar[int]
    QUOTES_FIELD_NUMBER: _ClassVar[int]
    ALIGNED_QUOTES_FIELD_NUMBER: _ClassVar[int]
    STORED_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    MERGED_CLUSTER_IDS_FIELD_NUMBER: _ClassVar[int]
    article_id: str
    verdict: Verdict
    cluster_id: str
    new_cluster: bool
    matches: _containers.RepeatedCompositeFieldContainer[Match]
    quotes: _containers.RepeatedCompositeFieldContainer[Quote]
    aligned_quotes: _containers.RepeatedCompositeFieldContainer[QuoteAlignment]
    stored: bool
    reason: str
    published_at: _timestamp_pb2.Timestamp
    merged_cluster_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, article_id: _Optional[str] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., cluster_id: _Optional[str] = ..., new_cluster: _Optional[bool] = ..., matches: _Optional[_Iterable[_Union[Match, _Mapping]]] = ..., quotes: _Optional[_Iterable[_Union[Quote, _Mapping]]] = ..., aligned_quotes: _Optional[_Iterable[_Union[QuoteAlignment, _Mapping]]] = ..., stored: _Optional[bool] = ..., reason: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., merged_cluster_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class IngestStreamResponse(_message.Message):
    __slots__ = ("article_id", "decision", "error")
    ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    article_id: str
    decision: Decision
    error: Error
    def __init__(self, article_id: _Optional[str] = ..., decision: _Optional[_Union[Decision, _Mapping]] = ..., error: _Optional[_Union[Error, _Mapping]] = ...) -> None: ...

class Error(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class GetClusterRequest(_message.Message):
    __slots__ = ("cluster_id", "page_size", "page_token")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    page_size: int
    page_token: str
    def __init__(self, cluster_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ClusterMember(_message.Message):
    __slots__ = ("article_id", "title", "verdict", "published_at", "source")
    ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    article_id: str
    title: str
    verdict: Verdict
    published_at: _timestamp_pb2.Timestamp
    source: str
    def __init__(self, article_id: _Optional[str] = ..., title: _Optional[str] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., source: _Optional[str] = ...) -> None: ...

class Cluster(_message.Message):
    __slots__ = ("cluster_id", "aliases", "articles", "created_at", "quote_groups", "size", "next_page_token")
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    ARTICLES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    QUOTE_GROUPS_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    cluster_id: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    articles: _containers.RepeatedCompositeFieldContainer[ClusterMember]
    created_at: _timestamp_pb2.Timestamp
    quote_groups: _containers.RepeatedCompositeFieldContainer[QuoteGroup]
    size: int
    next_page_token: str
    def __init__(self, cluster_id: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., articles: _Optional[_Iterable[_Union[ClusterMember, _Mapping]]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., quote_groups: _Optional[_Iterable[_Union[QuoteGroup, _Mapping]]] = ..., size: _Optional[int] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class QuoteGroup(_message.Message):
    __slots__ = ("wordings",)
    WORDINGS_FIELD_NUMBER: _ClassVar[int]
    wordings: _containers.RepeatedCompositeFieldContainer[QuoteWording]
    def __init__(self, wordings: _Optional[_Iterable[_Union[QuoteWording, _Mapping]]] = ...) -> None: ...

class QuoteWording(_message.Message):
    __slots__ = ("article_id", "quote", "span", "kind", "similarity")
    ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    SPAN_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SIMILARITY_FIELD_NUMBER: _ClassVar[int]
    article_id: str
    quote: Quote
    span: Span
    kind: AlignmentKind
    similarity: float
    def __init__(self, article_id: _Optional[str] = ..., quote: _Optional[_Union[Quote, _Mapping]] = ..., span: _Optional[_Union[Span, _Mapping]] = ..., kind: _Optional[_Union[AlignmentKind, str]] = ..., similarity: _Optional[float] = ...) -> None: ...

class GetArticleRequest(_message.Message):
    __slots__ = ("article_id",)
    ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    article_id: str
    def __init__(self, article_id: _Optional[str] = ...) -> None: ...

class StoredArticle(_message.Message):
    __slots__ = ("article", "cluster_id", "verdict", "quotes", "ingested_at")
    ARTICLE_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    QUOTES_FIELD_NUMBER: _ClassVar[int]
    INGESTED_AT_FIELD_NUMBER: _ClassVar[int]
    article: Article
    cluster_id: str
    verdict: Verdict
    quotes: _containers.RepeatedCompositeFieldContainer[Quote]
    ingested_at: _timestamp_pb2.Timestamp
    def __init__(self, article: _Optional[_Union[Article, _Mapping]] = ..., cluster_id: _Optional[str] = ..., verdict: _Optional[_Union[Verdict, str]] = ..., quotes: _Optional[_Iterable[_Union[Quote, _Mapping]]] = ..., ingested_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DeleteArticleRequest(_message.Message):
    __slots__ = ("article_id",)
    ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    article_id: str
    def __init__(self, article_id: _Optional[str] = ...) -> None: ...

class DeleteArticleResponse(_message.Message):
    __slots__ = ("article_id", "cluster_id")
    ARTICLE_ID_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_ID_FIELD_NUMBER: _ClassVar[int]
    article_id: str
    cluster_id: str
    def __init__(self, article_id: _Optional[str] = ..., cluster_id: _Optional[str] = ...) -> None: ...

class StatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatsResponse(_message.Message):
    __slots__ = ("articles", "clusters", "lexical_index_size", "semantic_index_size", "parameters", "last_change", "snapshot_change")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ARTICLES_FIELD_NUMBER: _ClassVar[int]
    CLUSTERS_FIELD_NUMBER: _ClassVar[int]
    LEXICAL_INDEX_SIZE_FIELD_NUMBER: _ClassVar[int]
    SEMANTIC_INDEX_SIZE_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    LAST_CHANGE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_CHANGE_FIELD_NUMBER: _ClassVar[int]
    articles: int
    clusters: int
    lexical_index_size: int
    semantic_index_size: int
    parameters: _containers.ScalarMap[str, str]
    last_change: int
    snapshot_change: int
    def __init__(self, articles: _Optional[int] = ..., clusters: _Optional[int] = ..., lexical_index_size: _Optional[int] = ..., semantic_index_size: _Optional[int] = ..., parameters: _Optional[_Mapping[str, str]] = ..., last_change: _Optional[int] = ..., snapshot_change: _Optional[int] = ...) -> None: ...
