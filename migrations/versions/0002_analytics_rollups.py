"""analytics rollups: per-event daily stats, per-user stats, watermark; indexes for analytics queries

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 19:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('analytics_event_daily',
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('bookings', sa.Integer(), nullable=False),
    sa.Column('confirmed_bookings', sa.Integer(), nullable=False),
    sa.Column('tickets', sa.Integer(), nullable=False),
    sa.Column('revenue', sa.Numeric(precision=16, scale=2), nullable=False),
    sa.Column('cancellations', sa.Integer(), nullable=False),
    sa.Column('cancelled_tickets', sa.Integer(), nullable=False),
    sa.Column('promotions', sa.Integer(), nullable=False),
    sa.Column('promoted_tickets', sa.Integer(), nullable=False),
    sa.Column('promotion_waits', sa.Integer(), nullable=False),
    sa.Column('promotion_wait_seconds', sa.Numeric(precision=18, scale=3), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('event_id', 'day', 'currency', name=op.f('pk_analytics_event_daily'))
    )
    op.create_index('ix_analytics_event_daily_day', 'analytics_event_daily', ['day'], unique=False)

    op.create_table('analytics_user_stats',
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('bookings', sa.Integer(), nullable=False),
    sa.Column('confirmed_bookings', sa.Integer(), nullable=False),
    sa.Column('tickets', sa.Integer(), nullable=False),
    sa.Column('cancellations', sa.Integer(), nullable=False),
    sa.Column('first_booked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_booked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_analytics_user_stats'))
    )

    op.create_table('analytics_rollup_state',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('watermark', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_run_ms', sa.Integer(), nullable=True),
    sa.Column('last_run_groups', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_analytics_rollup_state'))
    )

    # Finding what changed since the watermark: one index per timestamp a change can carry
    # (created_at already has ix_bookings_created_at).
    op.create_index('ix_bookings_updated_at', 'bookings', ['updated_at'], unique=False)
    op.create_index('ix_bookings_cancelled_at', 'bookings', ['cancelled_at'], unique=False,
                    postgresql_where=sa.text('cancelled_at IS NOT NULL'))
    # Recomputing one event's day: a range on created_at within the event.
    op.create_index('ix_bookings_event_created', 'bookings', ['event_id', 'created_at'], unique=False)
    # Median time from freed seat to promotion, read by index-only scan over promotions only.
    op.create_index('ix_bookings_promotion_wait', 'bookings', ['created_at', 'seats_freed_at'], unique=False,
                    postgresql_where=sa.text("source = 'waitlist' AND seats_freed_at IS NOT NULL"))
    # Registrations over time.
    op.create_index('ix_users_created_at', 'users', ['created_at'], unique=False)
    # Waitlist size and seats still wanted per event.
    op.create_index('ix_waitlist_entries_waiting_demand', 'waitlist_entries', ['event_id'], unique=False,
                    postgresql_include=['quantity_remaining'], postgresql_where=sa.text("status = 'waiting'"))


def downgrade():
    op.drop_index('ix_waitlist_entries_waiting_demand', table_name='waitlist_entries')
    op.drop_index('ix_users_created_at', table_name='users')
    op.drop_index('ix_bookings_promotion_wait', table_name='bookings')
    op.drop_index('ix_bookings_event_created', table_name='bookings')
    op.drop_index('ix_bookings_cancelled_at', table_name='bookings')
    op.drop_index('ix_bookings_updated_at', table_name='bookings')
    op.drop_table('analytics_rollup_state')
    op.drop_table('analytics_user_stats')
    op.drop_index('ix_analytics_event_daily_day', table_name='analytics_event_daily')
    op.drop_table('analytics_event_daily')
