-- CreateTable
CREATE TABLE "TelemetryJournal" (
    "id" BIGSERIAL NOT NULL,
    "nodeId" TEXT NOT NULL,
    "seq" BIGINT NOT NULL,
    "bucketStart" TIMESTAMP(3) NOT NULL,
    "frame" JSONB NOT NULL,
    "receivedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "TelemetryJournal_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "TelemetryJournal_nodeId_seq_key" ON "TelemetryJournal"("nodeId", "seq");

-- AddForeignKey
ALTER TABLE "TelemetryJournal" ADD CONSTRAINT "TelemetryJournal_nodeId_fkey" FOREIGN KEY ("nodeId") REFERENCES "Node"("id") ON DELETE CASCADE ON UPDATE CASCADE;
