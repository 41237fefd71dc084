import LCCLI
runLayerCard(IngestCommand.self)
