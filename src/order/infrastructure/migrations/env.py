from common.db.alembic_env import run
from order.infrastructure.tables import metadata

run(metadata)
