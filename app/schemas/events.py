"""Schemas of the seed's event types: the eventData each must carry, with bounds."""

from marshmallow import INCLUDE, Schema, fields, validate

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
    score = fields.Float(required=True, validate=Score, allow_nan=False)
    duration = fields.Float(required=True, validate=NonNegative, allow_nan=False)


class AssessmentSubmittedSchema(EventDataSchema):
    assessmentId = fields.String(validate=validate.Length(max=200))
    score = fields.Float(required=True, validate=Score, allow_nan=False)
    duration = fields.Float(validate=NonNegative, allow_nan=False)
    answered = fields.Integer(validate=NonNegative)


class PracticeQuestionAnsweredSchema(EventDataSchema):
    questionId = fields.String(required=True, validate=validate.Length(min=1, max=200))
    correct = fields.Boolean()
    timeSpent = fields.Float(validate=NonNegative, allow_nan=False)
    score = fields.Float(validate=Score, allow_nan=False)


class LearningModuleViewedSchema(EventDataSchema):
    moduleId = fields.String(required=True, validate=validate.Length(min=1, max=200))
    duration = fields.Float(validate=NonNegative, allow_nan=False)
    progress = fields.Float(validate=Score, allow_nan=False)


class WeaknessDetectedSchema(EventDataSchema):
    skill = fields.String(required=True, validate=validate.Length(min=1, max=200))
    severity = fields.String(validate=validate.OneOf(["low", "medium", "high"]))
    score = fields.Float(validate=Score, allow_nan=False)


class MentorSessionStartedSchema(EventDataSchema):
    mentorId = fields.String(required=True, validate=validate.Length(min=1, max=200))
    sessionId = fields.String(validate=validate.Length(max=200))


class MentorFeedbackReceivedSchema(EventDataSchema):
    mentorId = fields.String(validate=validate.Length(max=200))
    sessionId = fields.String(validate=validate.Length(max=200))
    rating = fields.Integer(required=True, validate=validate.Range(min=1, max=5))
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
