"""seat engine: gate incarnation per event, queue order from the gate, notification text unbounded,
idempotency keys mapped to executions

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 09:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

NEW_TOKEN = sa.text("replace(gen_random_uuid()::text, '-', '')")
QUEUE_SEQ_TRIGGER = """
CREATE FUNCTION waitlist_entries_queue_seq() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.queue_seq IS NULL THEN
    SELECT COALESCE(max(queue_seq), 0) + 1 INTO NEW.queue_seq
    FROM waitlist_entries WHERE event_id = NEW.event_id AND status = 'waiting';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER waitlist_entries_queue_seq BEFORE INSERT ON waitlist_entries
FOR EACH ROW EXECUTE FUNCTION waitlist_entries_queue_seq();
"""


def upgrade():
    # Every event gets a random incarnation; its Redis gate is keyed by it, so a gate left
    # over from another database (or an earlier event with the same id) is never addressed.
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('gate_token', sa.String(length=32), server_default=NEW_TOKEN, nullable=False))

    # Queue order is the gate's numbering of joins, so the place a join is told is the place the queue uses.
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('queue_seq', sa.Numeric(), nullable=True))
    op.execute("UPDATE waitlist_entries SET queue_seq = id")
    # A writer that gives no number (the row-lock strategy, a seed script) puts the entry at the back.
    op.execute(QUEUE_SEQ_TRIGGER)
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.alter_column('queue_seq', nullable=False)
        batch_op.drop_index('ix_waitlist_entries_queue', postgresql_where=sa.text("status = 'waiting'"))
        batch_op.create_index('ix_waitlist_entries_queue', ['event_id', 'queue_seq', 'id'], unique=False,
                              postgresql_where=sa.text("status = 'waiting'"))

    # A notification must never abort the seat change it announces: its text has no length limit.
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('subject', existing_type=sa.String(length=200), type_=sa.Text(),
                              existing_nullable=False)

    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('execution_id', sa.String(length=40), nullable=True))


def downgrade():
    with op.batch_alter_table('idempotency_records', schema=None) as batch_op:
        batch_op.drop_column('execution_id')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('subject', existing_type=sa.Text(), type_=sa.String(length=200),
                              existing_nullable=False, postgresql_using='left(subject, 200)')
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_waitlist_entries_queue', postgresql_where=sa.text("status = 'waiting'"))
        batch_op.create_index('ix_waitlist_entries_queue', ['event_id', 'id'], unique=False,
                              postgresql_where=sa.text("status = 'waiting'"))
        batch_op.drop_column('queue_seq')
    op.execute("DROP TRIGGER waitlist_entries_queue_seq ON waitlist_entries")
    op.execute("DROP FUNCTION waitlist_entries_queue_seq()")
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('gate_token')
