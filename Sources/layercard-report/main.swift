import LCCLI
runLayerCard(ReportCommand.self)
