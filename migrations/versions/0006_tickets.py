"""tickets: one per confirmed seat, check-ins, the staff role, event time zones

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 12:00:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_role_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_users_role_known'), "role IN ('user', 'admin', 'staff')")

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False))

    op.create_table('tickets',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('booking_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('seat_index', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=8), server_default='valid', nullable=False),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('seat_index >= 1', name=op.f('ck_tickets_seat_index_positive')),
    sa.CheckConstraint("status IN ('valid', 'void')", name=op.f('ck_tickets_status_known')),
    sa.CheckConstraint("(status = 'void') = (voided_at IS NOT NULL)", name=op.f('ck_tickets_voided_when_void')),
    sa.ForeignKeyConstraint(['booking_id'], ['bookings.id'], name=op.f('fk_tickets_booking_id_bookings'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tickets')),
    sa.UniqueConstraint('booking_id', 'seat_index', name='uq_tickets_booking_seat')
    )
    # Every booking confirmed before tickets existed gets its tickets, seats 1..quantity.
    op.execute("""
        INSERT INTO tickets (booking_id, event_id, seat_index, created_at)
        SELECT b.id, b.event_id, seat, b.created_at
        FROM bookings b, generate_series(1, b.quantity) AS seat
        WHERE b.status = 'confirmed'
        ORDER BY b.id, seat""")

    op.create_table('checkins',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('ticket_id', sa.BigInteger(), nullable=False),
    sa.Column('event_id', sa.BigInteger(), nullable=False),
    sa.Column('scanned_by_id', sa.BigInteger(), nullable=True),
    sa.Column('request_id', sa.String(length=128), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('undone_by_id', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_checkins_ticket_id_tickets'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['scanned_by_id'], ['users.id'], name=op.f('fk_checkins_scanned_by_id_users'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['undone_by_id'], ['users.id'], name=op.f('fk_checkins_undone_by_id_users'),
                            ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkins'))
    )
    with op.batch_alter_table('checkins', schema=None) as batch_op:
        batch_op.create_index('uq_checkins_live_ticket', ['ticket_id'], unique=True,
                              postgresql_where=sa.text('undone_at IS NULL'))
        batch_op.create_index('ix_checkins_event_time', ['event_id', 'checked_in_at'], unique=False)


def downgrade():
    op.drop_table('checkins')
    op.drop_table('tickets')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_column('timezone')
    op.execute("UPDATE users SET role = 'user' WHERE role = 'staff'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_role_known'), type_='check')
        batch_op.create_check_constraint(op.f('ck_users_role_known'), "role IN ('user', 'admin')")
