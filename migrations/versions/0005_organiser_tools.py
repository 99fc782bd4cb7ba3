"""organiser tools: waitlist pause and removal, per-user cap, partial cancellation, audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 12:00:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('waitlist_paused', sa.Boolean(), server_default='false', nullable=False))
        batch_op.add_column(sa.Column('max_per_user', sa.Integer(), nullable=True))
        batch_op.create_check_constraint(op.f('ck_events_max_per_user_positive'), 'max_per_user IS NULL OR max_per_user >= 1')

    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_waitlist_entries_status_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_waitlist_entries_status_known'),
                                         "status IN ('waiting', 'served', 'left', 'cancelled', 'removed')")

    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_quantity', sa.Integer(), server_default='0', nullable=False))
        batch_op.create_check_constraint(op.f('ck_bookings_cancelled_quantity_non_negative'), 'cancelled_quantity >= 0')
    # Seats given back so far: all of them for a booking cancelled before partial cancellation existed.
    op.execute("UPDATE bookings SET cancelled_quantity = quantity WHERE status = 'cancelled'")
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_bookings_cancelled_gave_seats_back'),
                                         "status <> 'cancelled' OR cancelled_quantity > 0")

    op.create_table('audit_entries',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=True),
    sa.Column('event_id', sa.BigInteger(), nullable=True),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('subject_type', sa.String(length=40), nullable=False),
    sa.Column('subject_id', sa.BigInteger(), nullable=True),
    sa.Column('before', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('after', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_audit_entries_actor_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entries'))
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entries_event_created', ['event_id', 'created_at'], unique=False)


def downgrade():
    op.drop_table('audit_entries')
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_bookings_cancelled_gave_seats_back'), type_='check')
        batch_op.drop_constraint(op.f('ck_bookings_cancelled_quantity_non_negative'), type_='check')
        batch_op.drop_column('cancelled_quantity')
    op.execute("UPDATE waitlist_entries SET status = 'cancelled' WHERE status = 'removed'")
    with op.batch_alter_table('waitlist_entries', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_waitlist_entries_status_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_waitlist_entries_status_known'),
                                         "status IN ('waiting', 'served', 'left', 'cancelled')")
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_events_max_per_user_positive'), type_='check')
        batch_op.drop_column('max_per_user')
        batch_op.drop_column('waitlist_paused')
