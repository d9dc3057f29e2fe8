"""Schemas of the seed's event types: the eventData each must carry, with bounds.

They validate; they never rewrite: ingest stores eventData exactly as it was sent.
"""

from marshmallow import INCLUDE, Schema, fields, validate

from .fields import JsonBoolean, JsonNumber, WholeNumber

Score = validate.Range(min=0, max=100)
NonNegative = validate.Range(min=0)


class EventDataSchema(Schema):
    """eventData of any type: extra fields are kept as sent."""

    class Meta:
        unknown = INCLUDE


class InterviewStartedSchema(EventDataSchema):
    interviewId = fields.String(validate=validate.Length(max=200))
    interviewType = fields.String(validate=validate.Length(max=100))
    role = fields.String(validate=validate.Length(max=200))


class InterviewCompletedSchema(EventDataSchema):
    interviewId = fields.String(validate=validate.Length(max=200))
    score = JsonNumber(required=True, validate=Score, allow_nan=False)
    duration = JsonNumber(required=True, validate=NonNegative, allow_nan=False)


class AssessmentSubmittedSchema(EventDataSchema):
    assessmentId = fields.String(validate=validate.Length(max=200))
    score = JsonNumber(required=True, validate=Score, allow_nan=False)
    duration = JsonNumber(validate=NonNegative, allow_nan=False)
    answered = WholeNumber(validate=NonNegative)


class PracticeQuestionAnsweredSchema(EventDataSchema):
    questionId = fields.String(required=True, validate=validate.Length(min=1, max=200))
    correct = JsonBoolean()
    timeSpent = JsonNumber(validate=NonNegative, allow_nan=False)
    score = JsonNumber(validate=Score, allow_nan=False)


class LearningModuleViewedSchema(EventDataSchema):
    moduleId = fields.String(required=True, validate=validate.Length(min=1, max=200))
    duration = JsonNumber(validate=NonNegative, allow_nan=False)
    progress = JsonNumber(validate=Score, allow_nan=False)


class WeaknessDetectedSchema(EventDataSchema):
    skill = fields.String(required=True, validate=validate.Length(min=1, max=200))
    severity = fields.String(validate=validate.OneOf(["low", "medium", "high"]))
    score = JsonNumber(validate=Score, allow_nan=False)


class MentorSessionStartedSchema(EventDataSchema):
    mentorId = fields.String(required=True, validate=validate.Length(min=1, max=200))
    sessionId = fields.String(validate=validate.Length(max=200))


class MentorFeedbackReceivedSchema(EventDataSchema):
    mentorId = fields.String(validate=validate.Length(max=200))
    sessionId = fields.String(validate=validate.Length(max=200))
    rating = WholeNumber(required=True, validate=validate.Range(min=1, max=5))
    comment = fields.String(validate=validate.Length(max=5000))


# One loaded schema instance per seed type; other types are free-form unless STRICT_EVENT_TYPES.
EVENT_DATA_SCHEMAS = {
    "interview_started": InterviewStartedSchema(),
    "interview_completed": InterviewCompletedSchema(),
    "assessment_submitted": AssessmentSubmittedSchema(),
    "practice_question_answered": PracticeQuestionAnsweredSchema(),
    "learning_module_viewed": LearningModuleViewedSchema(),
    "weakness_detected": WeaknessDetectedSchema(),
    "mentor_session_started": MentorSessionStartedSchema(),
    "mentor_feedback_received": MentorFeedbackReceivedSchema(),
}
SEED_EVENT_TYPES = tuple(EVENT_DATA_SCHEMAS)
ANY_EVENT_DATA = EventDataSchema()
