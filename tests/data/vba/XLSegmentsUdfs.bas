Attribute VB_Name = "XLSegmentsUdfs"
' UDF wrappers in the shape xlwings writes them (a fabricated test fixture).
Function TOP_SPENDERS(orders, Optional n)
        If TypeOf Application.Caller Is Range Then On Error GoTo failed
        TOP_SPENDERS = Py.CallUDF("udfs", "TOP_SPENDERS", Array(orders, n), ThisWorkbook, Application.Caller)
        Exit Function
failed:
        TOP_SPENDERS = Err.Description
End Function

Function CHURN_RISK(orders, Optional days)
        If TypeOf Application.Caller Is Range Then On Error GoTo failed
        CHURN_RISK = Py.CallUDF("udfs", "CHURN_RISK", Array(orders, days), ThisWorkbook, Application.Caller)
        Exit Function
failed:
        CHURN_RISK = Err.Description
End Function
